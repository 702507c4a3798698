"""The comparison report: one self-contained HTML file (``DIR/report.html``).

Patient-level changes and the response category under each criterion (with its citation and
the statement that no consensus SSTR criterion exists), the table of lesions (paired, split,
merged, new, disappeared), a waterfall plot of the per-lesion volume change and coronal MIPs
of both studies side by side, each lesion outlined and numbered by its comparison entry so
that the same number marks the same lesion on both sides.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import highdicom as hd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from nenscope import __version__  # noqa: E402
from nenscope.atomic import write_bytes_atomic  # noqa: E402
from nenscope.followup.criteria import consensus_statement, criteria_table  # noqa: E402
from nenscope.report.figures import (  # noqa: E402
    data_uri,
    numbered_outlines,
    png_bytes,
    to_display,
)

__all__ = ["entry_label_maps", "mips_side_by_side_png", "render_comparison", "waterfall_png"]

_STATUS_COLOURS = {
    "paired": "#4a78b5",
    "split": "#8e5bb5",
    "merged": "#b58a2a",
    "disappeared": "#3d9a5b",
    "new": "#c0392b",
}
_NEW_BAR_PCT = 100.0  # a new lesion is drawn as a +100 % bar (hatched), its change undefined


def entry_label_maps(
    comparison: dict[str, Any], current_labels: NDArray, prior_labels: NDArray
) -> tuple[NDArray, NDArray]:
    """Both label maps renumbered by comparison entry (entry ``n`` -> value ``n``)."""

    def lut(key: str, labels: NDArray) -> NDArray:
        table = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
        for n, entry in enumerate(comparison["lesions"], start=1):
            ids = entry[key]
            for i in [ids] if isinstance(ids, int) else ids or []:
                if 0 < i < table.size:
                    table[i] = n
        return table[labels]

    return lut("current_id", current_labels), lut("prior_id", prior_labels)


def _mip(ax, suv: hd.Volume, numbers: hd.Volume, vmax: float, title: str) -> None:
    arr, (s_f, _s_p, s_l) = to_display(suv)
    lab, _ = to_display(numbers)
    mip = arr.max(axis=1)
    h, w = mip.shape[0] * s_f, mip.shape[1] * s_l
    ax.imshow(mip, cmap="gray_r", vmin=0, vmax=vmax, extent=(0, w, h, 0), interpolation="bilinear")
    tab10 = plt.get_cmap("tab10")  # colour by entry number: the same in both studies
    numbered_outlines(ax, lab, 1, (s_f, s_l), lambda _k, n: tab10((n - 1) % 10), fontsize=12)
    ax.set_title(title, fontsize=10)
    ax.text(2, h - 4, "R", color="#444", fontsize=9)
    ax.text(w - 10, h - 4, "L", color="#444", fontsize=9)
    ax.set_axis_off()


def mips_side_by_side_png(
    prior_suv: hd.Volume,
    prior_numbers: hd.Volume,
    current_suv: hd.Volume,
    current_numbers: hd.Volume,
    *,
    suv_max_display: float,
    titles: tuple[str, str] = ("prior", "current"),
) -> bytes:
    """Coronal MIPs (SUV 0..``suv_max_display``), prior left and current right, each lesion
    outlined and labelled with its comparison entry number."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 7.5))
    _mip(axes[0], prior_suv, prior_numbers, suv_max_display, titles[0])
    _mip(axes[1], current_suv, current_numbers, suv_max_display, titles[1])
    fig.tight_layout()
    return png_bytes(fig)


def waterfall_png(entries: list[dict[str, Any]]) -> bytes:
    """Per-lesion change of the partial-volume-corrected volume (%), largest rise first; new
    lesions hatched at +100 %; dotted lines at the tumour-volume criterion's thresholds
    (-65 %, +73 %)."""
    rows = []
    for n, e in enumerate(entries, start=1):
        if e["status"] == "new":
            rows.append((n, _NEW_BAR_PCT, "new"))
        elif e.get("volume_pvc_change_pct") is not None:
            rows.append((n, float(e["volume_pvc_change_pct"]), e["status"]))
    rows.sort(key=lambda r: -r[1])
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for x, (n, pct, status) in enumerate(rows):
        ax.bar(
            x,
            pct,
            color=_STATUS_COLOURS[status],
            hatch="//" if status == "new" else None,
            edgecolor="white",
        )
        ax.text(
            x,
            pct + (4 if pct >= 0 else -4),
            str(n),
            ha="center",
            va="bottom" if pct >= 0 else "top",
            fontsize=8,
        )
    vol = criteria_table()["sstr_volume"]
    ax.axhline(0, color="#666", linewidth=0.8)
    for y in (-100.0 * vol["response_decrease"], 100.0 * vol["progression_increase"]):
        ax.axhline(y, color="#666", linestyle=":", linewidth=0.8)
    ax.set_xticks([])
    ax.set_ylabel("corrected volume change (%)")
    ax.set_xlim(-0.8, max(len(rows), 1) - 0.2)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _STATUS_COLOURS.values()]
    ax.legend(
        handles,
        list(_STATUS_COLOURS),
        fontsize=7,
        ncol=5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        frameon=False,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return png_bytes(fig)


def _display_max(*findings: dict[str, Any]) -> float:
    livers = [f.get("reference", {}).get("liver_suv_mean") for f in findings]
    livers = [v for v in livers if v]
    return float(np.clip(4.0 * max(livers), 5.0, 40.0)) if livers else 10.0


def render_comparison(
    comparison: dict[str, Any],
    *,
    prior_suv: hd.Volume,
    prior_labels: hd.Volume,
    current_suv: hd.Volume,
    current_labels: hd.Volume,
    prior_findings: dict[str, Any],
    current_findings: dict[str, Any],
) -> str:
    """The comparison report as one HTML string (figures embedded as PNG)."""
    cur_n, pri_n = entry_label_maps(
        comparison, np.asarray(current_labels.array), np.asarray(prior_labels.array)
    )
    dates = (
        comparison["prior"].get("scan_start_datetime") or "",
        comparison["current"].get("scan_start_datetime") or "",
    )
    mips = mips_side_by_side_png(
        prior_suv,
        prior_labels.with_array(pri_n),
        current_suv,
        current_labels.with_array(cur_n),
        suv_max_display=_display_max(prior_findings, current_findings),
        titles=(f"prior {dates[0]}", f"current {dates[1]}"),
    )
    env = Environment(
        loader=PackageLoader("nenscope.followup", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    return env.get_template("comparison.html.j2").render(
        comparison=comparison,
        patient=comparison["patient"],
        entries=comparison["lesions"],
        agent=current_findings.get("study", {}).get("agent") or "",
        mips_uri=data_uri(mips),
        waterfall_uri=data_uri(waterfall_png(comparison["lesions"])),
        consensus=consensus_statement(),
        version=__version__,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
    )


def write_comparison_report(comparison: dict[str, Any], out_dir: Path, **volumes: Any) -> Path:
    """Write ``out_dir/report.html`` (see :func:`render_comparison`); return its path."""
    path = Path(out_dir) / "report.html"
    write_bytes_atomic(path, render_comparison(comparison, **volumes).encode("utf-8"))
    return path
