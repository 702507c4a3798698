"""The CT's dose-length product from its image headers (CTDIvol per slice).

Each CT image may carry CTDIvol (0018,9345, mGy; type 3 in the CT Image module, written by
most scanners, per slice with tube-current modulation). The dose-length product of the
reconstructed range is ``DLP = sum_i CTDIvol_i x dz_i`` (dz: slice spacing in cm), i.e. the
mean CTDIvol times the reconstructed length. The irradiated length is longer (over-ranging of
helical scans), so this DLP is a lower estimate of the scanner's own (which only a radiation
dose structured report carries).

Example
-------
>>> dose = read_ct_dose(ct_datasets)  # doctest: +SKIP
>>> dose.dlp_mgy_cm, dose.ctdi_vol_mgy
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from nenscope.imaging._dicom import get_float, get_floats

__all__ = ["CtDose", "read_ct_dose"]


@dataclass(frozen=True)
class CtDose:
    """Dose indices of the CT series.

    Attributes:
        ctdi_vol_mgy: mean CTDIvol over the slices (mGy).
        scan_length_cm: reconstructed length (cm): extent of the slice centres plus one spacing.
        dlp_mgy_cm: dose-length product of the reconstructed range (mGy·cm).
        source: how it was obtained (for the report).
    """

    ctdi_vol_mgy: float
    scan_length_cm: float
    dlp_mgy_cm: float
    source: str


def _slice_positions_mm(datasets: Sequence[Dataset]) -> np.ndarray | None:
    normal = None
    positions = []
    for ds in datasets:
        iop = get_floats(ds, "ImageOrientationPatient", 6)
        ipp = get_floats(ds, "ImagePositionPatient", 3)
        if iop is None or ipp is None:
            return None
        if normal is None:
            normal = np.cross(iop[:3], iop[3:])
        positions.append(float(np.dot(normal, ipp)))
    return np.sort(np.asarray(positions))


def read_ct_dose(datasets: Sequence[Dataset]) -> CtDose | None:
    """Dose indices of a CT series, or ``None`` when a slice lacks CTDIvol (0018,9345) or its
    position (one slice alone has no length)."""
    ctdi = [get_float(ds, "CTDIvol") for ds in datasets]
    if len(datasets) < 2 or any(c is None or not c >= 0 for c in ctdi):
        return None
    z_mm = _slice_positions_mm(datasets)
    if z_mm is None:
        return None
    steps = np.diff(z_mm)
    spacing_mm = float(np.median(steps)) if len(steps) else 0.0
    if not spacing_mm > 0:
        return None
    values = np.asarray(ctdi, dtype=float)
    length_cm = (z_mm[-1] - z_mm[0] + spacing_mm) / 10.0
    return CtDose(
        ctdi_vol_mgy=round(float(values.mean()), 3),
        scan_length_cm=round(float(length_cm), 2),
        dlp_mgy_cm=round(float(values.mean() * length_cm), 1),
        source="CTDIvol (0018,9345) of each CT slice x the reconstructed length",
    )
