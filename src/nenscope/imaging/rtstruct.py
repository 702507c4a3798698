"""RTSTRUCT contours to a label volume on an image grid.

Each CLOSED_PLANAR contour is mapped into the reference volume's index space, assigned to the
slice it lies on, and filled by testing voxel centres against the polygon
(``matplotlib.path.Path.contains_points``, the even–odd rule); several contours of one ROI on
one slice combine by exclusive-or, so inner contours cut holes (DICOM PS3.3 C.8.8.6).
Written by hand because no maintained library in the stack rasterises RTSTRUCT onto an
arbitrary ``highdicom.Volume`` (highdicom reads/writes SEG, not RTSTRUCT).
"""

from __future__ import annotations

import os

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset

from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import lps_to_indices

#: Largest distance (in slices) between a contour's plane and the nearest slice centre.
SLICE_TOLERANCE = 0.5


def _dataset(source: str | os.PathLike | Dataset) -> Dataset:
    if isinstance(source, Dataset):
        return source
    try:
        return pydicom.dcmread(str(source))
    except Exception as exc:
        raise NenscopeError(f"{source}: not a readable DICOM file ({exc})") from exc


_CONTOUR_DATA = 0x30060050


def _contour_points(contour: Dataset) -> np.ndarray | None:
    """ContourData (3006,0050) as an (n, 3) float array.

    Parsed from the raw DS bytes in one NumPy call: pydicom's per-value DS objects make a
    whole-body RTSTRUCT take seconds otherwise.
    """
    try:
        elem = contour.get_item(_CONTOUR_DATA)
        raw = getattr(elem, "value", None)
        if isinstance(raw, bytes):
            values = np.array(
                raw.decode("ascii", "replace").replace("\\", " ").split(), dtype=float
            )
        else:
            values = np.asarray(contour.ContourData, dtype=float)
    except Exception:
        return None
    if values.size < 9 or values.size % 3 or not np.all(np.isfinite(values)):
        return None
    return values.reshape(-1, 3)


def read_rtstruct(
    path: str | os.PathLike | Dataset, reference: hd.Volume, *, roi_names: list[str] | None = None
) -> tuple[hd.Volume, dict[int, str]]:
    """Rasterise an RTSTRUCT onto the grid of ``reference``.

    Args:
        path: RTSTRUCT file (or a dataset already read).
        reference: image volume whose grid the labels are drawn on (its slices must be the
            contour planes: the image the structures were drawn on, or one on the same grid).
        roi_names: keep only these ROIs (case-insensitive), in the order given; all by default.

    Returns:
        (uint16 label volume on ``reference``'s grid, ``{label: ROI name}``). Labels number the
        ROIs 1, 2, ... in file order (or ``roi_names`` order); where ROIs overlap the smaller
        ROI wins (nested structures stay visible); read overlapping ROIs one by one with
        ``roi_names`` to get each full mask.

    Raises:
        NenscopeError: not an RTSTRUCT, a requested ROI is absent, or no contour lies on the
            reference grid.
    """
    ds = _dataset(path)
    if str(ds.get("Modality", "")).upper() != "RTSTRUCT" or "ROIContourSequence" not in ds:
        raise NenscopeError(f"{path}: not an RTSTRUCT (Modality {ds.get('Modality', '?')})")
    numbers = {
        int(item.ROINumber): str(item.get("ROIName", f"ROI {item.ROINumber}"))
        for item in ds.get("StructureSetROISequence", [])
    }
    wanted: list[int]
    if roi_names is None:
        wanted = [int(c.ReferencedROINumber) for c in ds.ROIContourSequence]
    else:
        lookup = {name.lower(): num for num, name in numbers.items()}
        missing = [n for n in roi_names if n.lower() not in lookup]
        if missing:
            raise NenscopeError(
                f"ROI(s) {', '.join(missing)} not in the RTSTRUCT (it has: "
                f"{', '.join(numbers.values())})"
            )
        wanted = [lookup[n.lower()] for n in roi_names]
    contours = {int(c.ReferencedROINumber): c for c in ds.ROIContourSequence}
    from matplotlib.path import Path as MplPath  # polygon fill; matplotlib only when used

    shape = reference.spatial_shape
    labels = np.zeros(shape, dtype=np.uint16)
    names: dict[int, str] = {}
    rows, cols = np.mgrid[0 : shape[1], 0 : shape[2]]
    drawn_any = False
    masks: dict[int, np.ndarray] = {}
    for label, roi in enumerate(wanted, start=1):
        names[label] = numbers.get(roi, f"ROI {roi}")
        item = contours.get(roi)
        if item is None:
            continue
        mask = np.zeros(shape, dtype=bool)
        for contour in item.get("ContourSequence", []):
            if str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper() != "CLOSED_PLANAR":
                continue
            pts = _contour_points(contour)
            if pts is None:
                continue
            if len(pts) < 3:
                continue
            idx = lps_to_indices(reference.affine, pts)
            k = float(np.mean(idx[:, 0]))
            kr = int(round(k))
            if (
                abs(k - kr) > SLICE_TOLERANCE
                or not 0 <= kr < shape[0]
                or np.ptp(idx[:, 0]) > 2 * SLICE_TOLERANCE
            ):
                continue
            poly = idx[:, 1:]
            r0, c0 = np.floor(poly.min(axis=0)).astype(int)
            r1, c1 = np.ceil(poly.max(axis=0)).astype(int)
            r0, c0 = max(r0, 0), max(c0, 0)
            r1, c1 = min(r1, shape[1] - 1), min(c1, shape[2] - 1)
            if r1 < r0 or c1 < c0:
                continue
            rr, cc = rows[r0 : r1 + 1, c0 : c1 + 1], cols[r0 : r1 + 1, c0 : c1 + 1]
            inside = MplPath(poly).contains_points(np.column_stack([rr.ravel(), cc.ravel()]))
            mask[kr, r0 : r1 + 1, c0 : c1 + 1] ^= inside.reshape(rr.shape)
            drawn_any = True
        masks[label] = mask
    # Paint the largest ROI first so nested structures (a GTV inside its oedema) stay visible.
    for label in sorted(masks, key=lambda lb: -int(masks[lb].sum())):
        labels[masks[label]] = label
    if wanted and not drawn_any:
        raise NenscopeError(
            "no RTSTRUCT contour lies on the reference grid (the structures were drawn on "
            "another image or frame of reference)"
        )
    return hd.Volume(
        labels,
        reference.affine.copy(),
        "PATIENT",
        frame_of_reference_uid=reference.frame_of_reference_uid,
    ), names
