"""One JSON-ready summary per discovered series (what ``nenscope info`` prints)."""

from __future__ import annotations

import os
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_str
from nenscope.imaging.discovery import Discovery, SeriesInfo, discover
from nenscope.imaging.identity import check_series_identity
from nenscope.imaging.series import rescale, series_geometry
from nenscope.imaging.study import SuvOverrides
from nenscope.imaging.suv import read_suv_header

_SUV_KEYS = (
    "radiopharmaceutical",
    "radionuclide",
    "injected_activity_bq",
    "injection_datetime",
    "scan_start_datetime",
    "decay_correction",
    "patient_weight_kg",
    "patient_height_m",
    "patient_sex",
    "suv_bw_factor",
    "sul_factor",
    "suv_lbm_james_factor",
    "suv_bsa_factor",
    "suv_ibw_factor",
)


def summarize_series(info: SeriesInfo, overrides: SuvOverrides | None = None) -> dict[str, Any]:
    """Summary of one series: identity, grid, units and (PT/NM) the SUV header and factors.

    Never raises for bad headers: problems become entries of ``warnings`` and null values.
    """
    entry: dict[str, Any] = {
        "series_instance_uid": info.series_instance_uid,
        "modality": info.modality,
        "description": info.description,
        "n_instances": info.n_instances,
        "shape": None,
        "spacing_mm": None,
        "units": None,
    }
    entry.update(dict.fromkeys(_SUV_KEYS))
    warnings: list[str] = []
    try:  # the same identity check as loading, reported here instead of refused
        check_series_identity(info.datasets, info.modality)
    except NenscopeError as exc:
        warnings.append(str(exc))
    if info.kind == "NM-planar":
        warnings.append("planar, whole-body or projection NM data: not a reconstructed volume")
    if info.kind in ("PT", "CT", "NM"):
        try:
            shape, spacing, geo_warnings = series_geometry(info)
            entry["shape"], entry["spacing_mm"] = list(shape), [round(s, 6) for s in spacing]
            warnings += geo_warnings
        except (
            NenscopeError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            AttributeError,
            OverflowError,
        ) as exc:
            warnings.append(
                str(exc) if isinstance(exc, NenscopeError) else f"malformed geometry header ({exc})"
            )
        try:
            entry["units"] = rescale(info.datasets[0], warnings)[2]
        except NenscopeError as exc:
            warnings.append(str(exc))
            entry["units"] = get_str(info.datasets[0], "Units")
    if info.kind in ("PT", "NM"):
        try:
            h = read_suv_header(
                info.datasets, modality=info.kind, units=entry["units"], overrides=overrides
            )
        except NenscopeError as exc:  # e.g. a malformed --injection-time
            warnings.append(str(exc))
        else:
            f = h.factors
            entry.update(
                {
                    "units": h.units,
                    "radiopharmaceutical": h.agent,
                    "radionuclide": h.radionuclide,
                    "injected_activity_bq": h.injected_activity_bq,
                    "injection_datetime": h.injection_datetime,
                    "scan_start_datetime": h.scan_start_datetime,
                    "decay_correction": h.decay_correction,
                    "patient_weight_kg": h.patient.weight_kg,
                    "patient_height_m": h.patient.height_m,
                    "patient_sex": h.patient.sex,
                    "suv_bw_factor": f.bw,
                    "sul_factor": f.sul,
                    "suv_lbm_james_factor": f.lbm_james,
                    "suv_bsa_factor": f.bsa,
                    "suv_ibw_factor": f.ibw,
                }
            )
            warnings += h.warnings
    elif info.kind in ("RTSTRUCT", "SEG"):
        entry["description"] = entry["description"] or get_str(
            info.datasets[0], "StructureSetLabel"
        )
    entry["warnings"] = list(dict.fromkeys(warnings))
    return entry


def summarize(
    path: str | os.PathLike | Discovery, overrides: SuvOverrides | None = None
) -> dict[str, Any]:
    """``{"series": [...], "skipped_files": [{"path", "reason"}]}`` for a folder or zip."""
    disc = path if isinstance(path, Discovery) else discover(path)
    return {
        "series": [summarize_series(s, overrides) for s in disc.series],
        "skipped_files": [{"path": f.path, "reason": f.reason} for f in disc.skipped_files],
    }
