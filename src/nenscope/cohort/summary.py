"""Cohort tables and plots from the store: what a statistician opens first.

Tables, each as CSV and Parquet (Apache Arrow types; read with pandas, polars, R ``arrow``):

- ``studies``: one row per study (status, error, summary scores, reference uptakes, timing);
- ``lesions``: one row per lesion of the studies done (every scalar field of findings.json,
  the centre split into x/y/z), with the IBSI radiomics features joined as columns
  (``radiomics=True``; the run needs ``--radiomics``).

Plots (PNG): Krenning score distribution over all lesions, SSTR tumour volume per study,
NETPET grade per study, and detection per site (lesions and studies with a lesion there).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from nenscope.atomic import atomic_path
from nenscope.cohort.store import CohortStore, sqlite_path
from nenscope.errors import NenscopeError

STUDY_FIELDS = (
    ("summary", "n_lesions"),
    ("summary", "sstr_tv_ml"),
    ("summary", "tl_sstr"),
    ("summary", "krenning_max"),
    ("summary", "prrt_eligible"),
    ("summary", "netpet"),
    ("summary", "n_fdg_only"),
    ("study", "agent"),
    ("study", "modality"),
    ("study", "injected_activity_mbq"),
    ("reference", "liver_suv_mean"),
    ("reference", "spleen_suv_mean"),
)
STORE_FIELDS = ("study_id", "status", "error", "path", "tracer", "fdg_path", "prior_path")
NETPET_GRADES = ("P0", "P1", "P2", "P3", "P4", "P5")


@dataclass
class CohortSummary:
    """What :func:`summarize` wrote: ``files`` by name, and the row counts."""

    files: dict[str, Path] = field(default_factory=dict)
    n_studies: int = 0
    n_done: int = 0
    n_lesions: int = 0


def study_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per study from the store's records."""
    rows = []
    for rec in records:
        row = {k: rec.get(k) for k in STORE_FIELDS}
        data = json.loads(rec["findings_json"]) if rec.get("findings_json") else {}
        for section, key in STUDY_FIELDS:
            row[key] = (data.get(section) or {}).get(key)
        row["duration_s"] = rec.get("duration_s")
        rows.append(row)
    return rows


def _lesion_row(study_id: str, lesion: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"study_id": study_id}
    for key, value in lesion.items():
        if key == "center_mm":
            row["center_x_mm"], row["center_y_mm"], row["center_z_mm"] = value
        elif not isinstance(value, list | dict):
            row[key] = value
    return row


def _radiomics(text: str | None) -> dict[int, dict[str, float]]:
    """``lesion -> {feature: value}`` from a long ``lesion,tag,value`` radiomics.csv."""
    out: dict[int, dict[str, float]] = {}
    for rec in csv.DictReader(io.StringIO(text or "")):
        try:
            value = float(rec["value"])
        except (TypeError, ValueError):
            continue
        out.setdefault(int(float(rec["lesion"])), {})[rec["tag"]] = value
    return out


def lesion_rows(records: Sequence[dict[str, Any]], *, radiomics: bool = False) -> list[dict]:
    """One row per lesion of the done studies; radiomics features joined when asked."""
    rows = []
    for rec in records:
        if rec.get("status") != "done" or not rec.get("findings_json"):
            continue
        features = _radiomics(rec.get("radiomics_csv")) if radiomics else {}
        for lesion in json.loads(rec["findings_json"]).get("lesions", []):
            row = _lesion_row(rec["study_id"], lesion)
            row.update(features.get(int(lesion["id"]), {}))
            rows.append(row)
    return rows


def _table(rows: Sequence[dict[str, Any]], first: Sequence[str]) -> pa.Table:
    """An Arrow table with the union of the rows' keys (``first`` first); integers mixed with
    floats become floats."""
    names = list(first)
    for row in rows:
        names += [k for k in row if k not in names]
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if any(isinstance(v, float) for v in values):
            values = [
                float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in values
            ]
        columns[name] = pa.array(values)
    return pa.table(columns) if names else pa.table({"study_id": pa.array([], pa.string())})


def _write_table(table: pa.Table, out: Path, name: str, files: dict[str, Path]) -> None:
    with atomic_path(out / f"{name}.parquet") as tmp:
        pq.write_table(table, tmp)
    files[f"{name}_parquet"] = out / f"{name}.parquet"
    with atomic_path(out / f"{name}.csv") as tmp:
        pa_csv.write_csv(table, tmp)
    files[f"{name}_csv"] = out / f"{name}.csv"


def _bar(
    path: Path, labels: Sequence[str], series: dict[str, Sequence[float]], title: str, ylabel: str
) -> Path:
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        x = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        ax.bar(x, values, width=width, label=name)
    ax.set_xticks(
        range(len(labels)),
        labels,
        rotation=30 if len(labels) > 6 else 0,
        ha="right" if len(labels) > 6 else "center",
    )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(frameon=False)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def _volume_plot(path: Path, studies: Sequence[dict[str, Any]]) -> Path:
    done = sorted(
        ((r["study_id"], r["sstr_tv_ml"]) for r in studies if r.get("sstr_tv_ml") is not None),
        key=lambda item: item[1],
    )
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(range(len(done)), [v for _, v in done], color="tab:orange")
    ax.set_xticks(
        range(len(done)),
        [s for s, _ in done] if len(done) <= 30 else [""] * len(done),
        rotation=60,
        ha="right",
    )
    ax.set_title(f"SSTR tumour volume ({len(done)} studies)")
    ax.set_ylabel("SSTR-TV (ml)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def _plots(
    out: Path, studies: Sequence[dict], lesions: Sequence[dict], files: dict[str, Path]
) -> None:
    krenning = Counter(les.get("krenning") for les in lesions)
    labels = ["0", "1", "2", "3", "4", "n/a"]
    counts = [krenning.get(k, 0) for k in range(5)] + [krenning.get(None, 0)]
    files["krenning_png"] = _bar(
        out / "krenning.png", labels, {"lesions": counts}, "Krenning score", "lesions"
    )
    files["sstr_tv_png"] = _volume_plot(out / "sstr_tumour_volume.png", studies)
    done = [s for s in studies if s["status"] == "done"]
    netpet = Counter(s.get("netpet") for s in done)
    grades = [*NETPET_GRADES, "not assessed"]
    values = [netpet.get(g, 0) for g in NETPET_GRADES] + [netpet.get(None, 0)]
    files["netpet_png"] = _bar(
        out / "netpet.png", grades, {"studies": values}, "NETPET grade", "studies"
    )
    by_site = Counter(les.get("site") or "unknown" for les in lesions)
    studies_by_site = Counter(
        site for _, site in {(les["study_id"], les.get("site") or "unknown") for les in lesions}
    )
    sites = [s for s, _ in by_site.most_common()]
    files["sites_png"] = _bar(
        out / "detection_by_site.png",
        sites,
        {
            "lesions": [by_site[s] for s in sites],
            "studies with a lesion there": [studies_by_site[s] for s in sites],
        },
        "Detection per site",
        "count",
    )


def summarize(
    db: str | os.PathLike, out_dir: str | os.PathLike, *, radiomics: bool = False
) -> CohortSummary:
    """Write the cohort tables (CSV + Parquet) and plots of the store ``db`` into ``out_dir``."""
    if not sqlite_path(db).is_file():
        raise NenscopeError(
            f"no cohort store at {db}: run `nenscope cohort run` first, or give --db"
        )
    with CohortStore(db) as store:
        records = store.studies()
    if not records:
        raise NenscopeError(
            f"the cohort store {db} holds no study: run `nenscope cohort run` first"
        )
    if radiomics and not any(r.get("radiomics_csv") for r in records):
        raise NenscopeError("no radiomics in the store: run the cohort with --radiomics first")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    studies = study_rows(records)
    lesions = lesion_rows(records, radiomics=radiomics)
    summary = CohortSummary(
        n_studies=len(studies),
        n_done=sum(s["status"] == "done" for s in studies),
        n_lesions=len(lesions),
    )
    _write_table(_table(studies, STORE_FIELDS), out, "studies", summary.files)
    _write_table(_table(lesions, ("study_id", "id")), out, "lesions", summary.files)
    _plots(out, studies, lesions, summary.files)
    return summary
