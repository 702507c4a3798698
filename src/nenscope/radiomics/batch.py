"""Many ROIs at once: a manifest of image/mask pairs to one wide feature table.

The manifest is a CSV with the header ``id,image,mask`` and an optional ``label`` column
(relative paths are taken from the manifest's folder):

- ``image``: a NIfTI file (values as stored, e.g. HU or SUV) or a DICOM series folder/zip
  (stored values, e.g. HU for CT; PET/SPECT converted to SUV when ``units`` names a kind);
- ``mask``: a NIfTI label map, DICOM SEG or RTSTRUCT, read onto the image grid;
- ``label``: empty (every non-zero voxel), an integer label value, or an RTSTRUCT ROI / SEG
  segment name.

:func:`run_manifest` computes the IBSI features of every pair with one settings object and
writes one row per pair: ``id``, ``image``, ``mask``, ``label``, ``error`` (empty when the
pair worked), then one column per feature tag. A pair that fails (missing file, empty ROI,
unreadable DICOM, ...) keeps its row with the error and empty features; the others go on.
The settings travel with the table: Parquet schema metadata (key ``nenscope.radiomics``) or,
for CSV, a JSON sidecar of the same stem (``features.csv`` → ``features.json``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nenscope import __version__
from nenscope.errors import NenscopeError
from nenscope.radiomics.extract import extract_volume_features, resolve_settings
from nenscope.radiomics.settings import RadiomicsSettings, preset_citation, preset_names

METADATA_KEY = "nenscope.radiomics"
ID_COLUMNS = ("id", "image", "mask", "label", "error")
_FAILURES = (NenscopeError, ValueError, RuntimeError, OSError, MemoryError)


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest row: sample ``id``, ``image`` and ``mask`` paths, optional ``label``."""

    id: str
    image: Path
    mask: Path
    label: str = ""


@dataclass(frozen=True)
class BatchResult:
    """What :func:`run_manifest` did: ``rows`` (as written), the files written, and the
    ``(id, error)`` of every failed pair."""

    rows: list[dict]
    outputs: list[Path]
    errors: list[tuple[str, str]]

    @property
    def n_ok(self) -> int:
        """Pairs with features."""
        return len(self.rows) - len(self.errors)


def read_manifest(path: str | os.PathLike) -> list[ManifestEntry]:
    """Rows of a manifest CSV (``id,image,mask[,label]``); relative paths are resolved
    against the manifest's folder. Raises :class:`NenscopeError` for a missing file or
    column, an empty manifest, or a repeated id."""
    path = Path(path)
    if not path.is_file():
        raise NenscopeError(f"manifest not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        missing = [c for c in ("id", "image", "mask") if c not in fields]
        if missing:
            raise NenscopeError(
                f"manifest {path} lacks column(s) {', '.join(missing)}; "
                "its header must be id,image,mask[,label]"
            )
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    entries = [
        ManifestEntry(
            r["id"], path.parent / r["image"], path.parent / r["mask"], r.get("label", "")
        )
        for r in rows
        if any(r.values())
    ]
    if not entries:
        raise NenscopeError(f"manifest {path} has no rows")
    seen: set[str] = set()
    for e in entries:
        if not e.id:
            raise NenscopeError(f"manifest {path}: a row has an empty id")
        if e.id in seen:
            raise NenscopeError(f"manifest {path}: id {e.id!r} appears twice")
        seen.add(e.id)
    return entries


def _load_image(path: Path, units: str):
    from nenscope.imaging import load_series, load_study, read_nifti

    if not path.exists():
        raise NenscopeError(f"image not found: {path}")
    if path.name.endswith((".nii", ".nii.gz")):
        return read_nifti(path)
    if units == "stored":
        return load_series(path).volume
    return load_study(path, load_ct=False).suv(units)


def _load_roi(path: Path, image, label: str):
    """Boolean ROI on the image grid: every non-zero voxel, one label value, or one named
    RTSTRUCT ROI / SEG segment."""
    import numpy as np

    from nenscope.imaging import read_mask

    if not path.exists():
        raise NenscopeError(f"mask not found: {path}")
    value = int(label) if label.lstrip("-").isdigit() else None
    by_name = bool(label) and value is None
    labels, names = read_mask(path, image, roi_names=[label] if by_name else None)
    arr = np.asarray(labels.array)
    if by_name:
        hits = [k for k, v in names.items() if v.lower() == label.lower()]
        if not hits:
            raise NenscopeError(f"ROI {label!r} not in {path.name}: {', '.join(names.values())}")
        value = hits[0]
    roi = arr > 0 if value is None else arr == value
    if not roi.any():
        raise NenscopeError(f"the ROI ({label or 'non-zero voxels'}) of {path.name} is empty")
    return roi


def extract_entry(
    entry: ManifestEntry, settings: RadiomicsSettings, units: str = "stored"
) -> dict[str, float]:
    """IBSI features of one manifest pair (raises on bad input)."""
    image = _load_image(entry.image, units)
    return extract_volume_features(image, _load_roi(entry.mask, image, entry.label), settings)


def extract_manifest(
    entries: list[ManifestEntry],
    settings: RadiomicsSettings,
    *,
    units: str = "stored",
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """One row per pair: the id columns (``error`` empty on success) and the features. A
    failing pair is recorded with its error message; the others go on."""
    rows = []
    for n, e in enumerate(entries):
        row: dict = {"id": e.id, "image": str(e.image), "mask": str(e.mask), "label": e.label}
        try:
            row.update(error="", **extract_entry(e, settings, units))
        except _FAILURES as exc:
            row["error"] = str(exc) or type(exc).__name__
        rows.append(row)
        if progress is not None:
            progress(n + 1, len(entries))
    return rows


def settings_metadata(settings: RadiomicsSettings, manifest: Path | None = None) -> dict:
    """What the table's metadata records: every settings field, the preset's citation (for a
    bundled preset), the nenscope version and the manifest path."""
    meta = {
        "settings": json.loads(json.dumps(dataclasses.asdict(settings))),
        "citation": preset_citation(settings.name) if settings.name in preset_names() else "",
        "nenscope_version": __version__,
    }
    if manifest is not None:
        meta["manifest"] = str(manifest)
    return meta


def _columns(rows: list[dict]) -> list[str]:
    tags: dict[str, None] = {}
    for r in rows:
        tags.update((k, None) for k in r if k not in ID_COLUMNS)
    return [*ID_COLUMNS, *tags]


def _write_csv(rows: list[dict], path: Path, meta: dict) -> list[Path]:
    cols = _columns(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            cells = [r.get(c, "") for c in cols]
            w.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in cells])
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return [path, sidecar]


def _write_parquet(rows: list[dict], path: Path, meta: dict) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = _columns(rows)
    arrays = {
        c: pa.array([str(r.get(c, "")) for r in rows], pa.string())
        if c in ID_COLUMNS
        else pa.array([float(r.get(c, math.nan)) for r in rows], pa.float64())
        for c in cols
    }
    table = pa.table(arrays).replace_schema_metadata({METADATA_KEY: json.dumps(meta)})
    pq.write_table(table, path)
    return [path]


def write_wide_table(rows: list[dict], path: str | os.PathLike, metadata: dict) -> list[Path]:
    """Write ``rows`` as one wide table: ``.parquet`` (metadata in the schema under
    ``nenscope.radiomics``) or ``.csv`` (metadata in a JSON sidecar). Returns the files."""
    path = Path(path)
    writer = {".parquet": _write_parquet, ".csv": _write_csv}.get(path.suffix.lower())
    if writer is None:
        raise NenscopeError(f"output {path.name}: use a .csv or .parquet file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    return writer(rows, path, metadata)


def run_manifest(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    settings: RadiomicsSettings | str | os.PathLike | None = None,
    *,
    units: str = "stored",
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Features of every pair of ``manifest`` written to ``out`` (.csv or .parquet).

    ``settings``: a :class:`RadiomicsSettings`, a preset name, a YAML path, or ``None``
    (``pet-default``). ``units``: ``stored`` or an SUV kind (``bw``, ``sul``, ...) for DICOM
    PET/SPECT images. The table is written even when pairs fail; their errors are returned.
    """
    from nenscope.imaging import SUV_KINDS

    if units not in (*SUV_KINDS, "stored"):
        raise NenscopeError(f"units must be one of {', '.join(SUV_KINDS)} or stored, got {units!r}")
    settings = resolve_settings(settings)
    if Path(out).suffix.lower() not in (".csv", ".parquet"):
        raise NenscopeError(f"output {Path(out).name}: use a .csv or .parquet file name")
    entries = read_manifest(manifest)
    rows = extract_manifest(entries, settings, units=units, progress=progress)
    outputs = write_wide_table(rows, out, settings_metadata(settings, Path(manifest)))
    errors = [(r["id"], r["error"]) for r in rows if r["error"]]
    return BatchResult(rows, outputs, errors)
