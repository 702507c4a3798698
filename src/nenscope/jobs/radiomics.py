"""The radiomics job: IBSI features of one ROI from an image file and a mask file.

:func:`roi_features` is ``nenscope radiomics extract`` without the command line: it loads the
image (NIfTI, or a DICOM PET/SPECT series as SUV or in its stored units), puts the ROI of a
NIfTI / DICOM-SEG / RTSTRUCT mask on the image grid, computes the features and, when asked,
writes them as ``tag,value`` rows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
from numpy.typing import NDArray

from nenscope.atomic import check_output_file, write_text_atomic
from nenscope.errors import NenscopeError

Progress = Callable[[str], None]


@dataclass
class RoiFeatures:
    """What :func:`roi_features` produced: features by IBSI tag (mm, mm², mm³ and image
    units), the settings' name, the CSV written (or None) and the image's header warnings
    (the same ones ``nenscope info`` shows)."""

    features: dict[str, float]
    settings_name: str
    csv_path: Path | None = None
    warnings: list[str] = field(default_factory=list)


def _is_nifti(path: Path) -> bool:
    return path.name.endswith(".nii") or path.name.endswith(".nii.gz")


def load_image(
    path: Path, units: str, *, allow_mismatch: bool = False
) -> tuple[hd.Volume, list[str]]:
    """The image: a NIfTI file as stored, or a DICOM series as SUV ``units`` (``stored``: the
    series' own units, e.g. Bq/ml); and the series' header warnings."""
    from nenscope.imaging import load_study
    from nenscope.imaging.nifti import read_nifti

    if not path.exists():
        raise NenscopeError(f"image not found: {path}")
    if _is_nifti(path):
        return read_nifti(path), []
    study = load_study(path, load_ct=False, allow_mismatch=allow_mismatch)
    if units == "stored":
        return study.emission, study.warnings
    return study.suv(units), study.warnings


def load_roi(
    path: Path, image: hd.Volume, *, label: int | None = None, roi: str | None = None
) -> NDArray[np.bool_]:
    """ROI on the image grid via ``nenscope.imaging.masks.read_mask`` (NIfTI, SEG, RTSTRUCT):
    the ROI or segment named ``roi``, else the voxels equal to ``label``, else every non-zero
    voxel."""
    import pydicom

    from nenscope.imaging.masks import read_mask

    if not path.exists():
        raise NenscopeError(f"mask not found: {path}")
    is_rtstruct = False
    if not _is_nifti(path) and path.is_file() and roi:
        is_rtstruct = (
            str(pydicom.dcmread(str(path), stop_before_pixels=True).get("Modality", "")).upper()
            == "RTSTRUCT"
        )
    mvol, names = read_mask(path, image, roi_names=[roi] if is_rtstruct else None)
    arr = np.asarray(mvol.array)
    if roi and names:
        hits = [k for k, v in names.items() if v.lower() == roi.lower()]
        if not hits:
            raise NenscopeError(f"ROI {roi!r} not found; the mask has: {', '.join(names.values())}")
        label = hits[0]
    if label is not None:
        out = arr == label
        if not out.any():
            raise NenscopeError(
                f"label {label} is absent from the mask (values: {np.unique(arr)[1:].tolist()})"
            )
        return out
    return arr > 0


def load_settings(preset_name: str | None, settings_file: Path | None):
    """Radiomics settings from a preset name or a YAML file (default preset ``pet-default``)."""
    from nenscope.radiomics import load_settings as read_settings
    from nenscope.radiomics import preset

    if preset_name and settings_file:
        raise NenscopeError("give either --preset or --settings, not both")
    if settings_file:
        return read_settings(settings_file)
    return preset(preset_name or "pet-default")


def features_csv(features: dict[str, float]) -> str:
    """``tag,value`` rows (CRLF line ends; NaN and None as an empty value, floats by repr)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["tag", "value"])
    for k, v in features.items():
        missing = v is None or (isinstance(v, float) and math.isnan(v))
        writer.writerow([k, "" if missing else repr(float(v))])
    return buf.getvalue()


def roi_features(
    image: Path,
    mask: Path,
    *,
    preset_name: str | None = None,
    settings_file: Path | None = None,
    units: str = "bw",
    label: int | None = None,
    roi: str | None = None,
    out_csv: Path | None = None,
    progress: Progress | None = None,
    allow_mismatch: bool = False,
) -> RoiFeatures:
    """IBSI-1 features of one ROI; with ``out_csv`` also written there as ``tag,value`` rows.

    Parameters
    ----------
    image : NIfTI (.nii/.nii.gz) or a DICOM PET/SPECT folder or zip.
    mask : NIfTI label map, DICOM RTSTRUCT or DICOM SEG file.
    preset_name, settings_file : settings preset (default ``pet-default``) or YAML file.
    units : DICOM input only: SUV kind (``bw``, ``sul``, ...) or ``stored``.
    label, roi : the mask's label value or ROI/segment name to use (default: non-zero voxels).
    progress : called with a short stage name before each stage.
    allow_mismatch : accept slices of another patient or study, with a warning.
    """
    from nenscope.imaging import SUV_KINDS
    from nenscope.radiomics import extract_volume_features

    say = progress or (lambda _stage: None)
    if units not in (*SUV_KINDS, "stored"):
        raise NenscopeError(f"--units must be one of {', '.join(SUV_KINDS)} or stored")
    settings = load_settings(preset_name, settings_file)
    if out_csv is not None:
        check_output_file(out_csv)  # before the work, not after
    say("loading")
    volume, warnings = load_image(image, units, allow_mismatch=allow_mismatch)
    roi_mask = load_roi(mask, volume, label=label, roi=roi)
    say("computing features")
    features = extract_volume_features(volume, roi_mask, settings)
    written = write_text_atomic(out_csv, features_csv(features)) if out_csv is not None else None
    return RoiFeatures(features, settings.name, written, warnings)
