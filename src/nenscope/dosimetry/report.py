"""Self-contained HTML report of a dosimetry run (Jinja2; matplotlib figures as base64 PNG)."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nenscope import __version__  # noqa: E402
from nenscope.atomic import write_text_atomic  # noqa: E402
from nenscope.dosimetry.pipeline import DosimetryResult  # noqa: E402

_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def tac_figure_png(result: DosimetryResult) -> str:
    """All time-activity curves (points and fitted/integrated curve), one panel per region."""
    n = max(1, len(result.regions))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, r in zip(axes.ravel(), result.regions, strict=False):
        f = r.fit
        t_end = max(max(f.times_h) * 1.3, 3 * f.t_eff_h if math.isfinite(f.t_eff_h) else 0, 24.0)
        t = np.linspace(0.0, t_end, 400)
        ax.plot(t, f.predict(t), "-", color="C0", label=f.model)
        ax.plot(f.times_h, f.activity_mbq, "o", color="C3", label="measured")
        ax.set_title(f"{r.name}: TIA {f.tia_mbq_h:.4g} MBq·h", fontsize=9)
        ax.set_xlabel("time after administration (h)")
        ax.set_ylabel("activity (MBq)")
        ax.legend(fontsize=7)
        ax.set_ylim(bottom=0)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def dvh_figure_png(result: DosimetryResult) -> str | None:
    """Cumulative DVHs of all regions in one plot, or None without a dose map."""
    if not result.dvhs:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for name, d in result.dvhs.items():
        ax.plot(d.dose_gy, 100 * d.volume_fraction, label=name)
    ax.set_xlabel("absorbed dose (Gy)")
    ax.set_ylabel("volume (%)")
    ax.set_ylim(0, 101)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def render_html(result: DosimetryResult) -> str:
    """The report as one HTML string (no external resources)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    doc = result.to_dict()
    return env.get_template("report.html.j2").render(
        method=result.method,
        sex=result.sex,
        injected=f"{result.injected_gbq:.3g} GBq" if result.injected_gbq else "unknown",
        version=__version__,
        warnings=result.warnings,
        regions=doc["regions"],
        dvhs=result.dvhs,
        tac_png=tac_figure_png(result),
        dvh_png=dvh_figure_png(result),
        fmt=_fmt,
    )


def write_report(result: DosimetryResult, path: str | Path) -> Path:
    """Write ``report.html`` to ``path``; return it."""
    return write_text_atomic(path, render_html(result))
