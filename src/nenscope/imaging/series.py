"""Load one discovered series into a geometry-true ``highdicom.Volume``.

Slices are sorted by their position along the slice normal (never by InstanceNumber) and
stacked in highdicom's convention (axis 0 runs along ``-(row × column)`` cosines, as
``highdicom.get_volume_from_series`` does), with each slice's own RescaleSlope/Intercept.

Slice-spacing policy (DICOM does not require regular spacing; highdicom refuses any):
  * positions within 5 % of the mean spacing of a regular grid: stacked as they are, the
    affine uses the mean spacing (a warning states the spread and the largest offset);
  * larger irregularity without gaps: linear resampling along the slice axis onto a regular
    grid at the median spacing, with a warning;
  * a gap wider than 1.5 × the median spacing (missing slices), repeated positions (dynamic
    or gated frames mixed in one series) or gantry tilt: refused with a NenscopeError that
    says so.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from nenscope.errors import MissingDataError, NenscopeError
from nenscope.imaging._dicom import get, get_float, get_floats, get_str, n_frames
from nenscope.imaging.discovery import SeriesInfo, SkippedFile, discover
from nenscope.imaging.headercheck import number, tag_name
from nenscope.imaging.limits import check_grid
from nenscope.parallel import axis0_blocks, thread_map

#: Largest offset of a slice from the regular grid, as a fraction of the spacing, that is
#: stacked without resampling.
REGULAR_TOLERANCE = 0.05
#: A step wider than this multiple of the median spacing is a gap (missing slices).
GAP_FACTOR = 1.5
#: Largest angle (degrees) between the stacking direction and the slice normal.
TILT_TOLERANCE_DEG = 0.1


@dataclass
class LoadedSeries:
    """A series as a volume.

    Attributes:
        volume: stored values after rescale (float32), ``highdicom.Volume`` (PATIENT).
        datasets: headers of the instances used, sorted along axis 0 for single-frame
            series (one per slice); the single instance for a multi-frame series.
        units: Units (0054,1001) or the unit of a real-world value mapping, e.g. ``"BQML"``;
            ``"HU"`` for CT; ``None`` if unknown.
        warnings: geometry or value notes (irregular spacing, resampling...).
        skipped_files: instances dropped (unreadable pixel data).
    """

    volume: hd.Volume
    datasets: list[Dataset]
    units: str | None
    warnings: list[str] = field(default_factory=list)
    skipped_files: list[SkippedFile] = field(default_factory=list)


def _need(ds: Dataset, keyword: str, tag: str, n: int | None = None):
    value = get_floats(ds, keyword, n) if n else get_float(ds, keyword)
    if value is None:
        raise MissingDataError(f"{keyword} (image geometry)", tag=tag)
    return value


_DTYPES = {
    (8, 0): np.uint8,
    (8, 1): np.int8,
    (16, 0): np.uint16,
    (16, 1): np.int16,
    (32, 0): np.uint32,
    (32, 1): np.int32,
}


def _pixel_bytes(ds: Dataset) -> bytes:
    """The PixelData bytes of ``ds``. A value that discovery deferred is read straight from
    its file (one open and one read) and not kept in ``ds``: the pixels are then held once, in
    the loaded volume, not also in the :class:`~nenscope.imaging.discovery.Discovery`."""
    elem = ds.get_item("PixelData", keep_deferred=True)
    if elem.value is None and isinstance(ds.filename, str):
        with open(ds.filename, "rb") as fp:
            fp.seek(elem.value_tell)
            data = fp.read(elem.length)
        if len(data) == elem.length:
            return data
    return ds.PixelData


def _pixels(ds: Dataset) -> np.ndarray:
    """Stored pixel values of all frames, shape (frames, rows, cols).

    Uncompressed little-endian data are viewed straight from the PixelData bytes (one copy,
    no per-file handler dispatch: this is what makes loading faster than ``pixel_array``);
    anything else goes through pydicom's decoders.
    """
    rows, cols = int(ds.Rows), int(ds.Columns)
    nf = n_frames(ds)
    ts = (
        ds.file_meta.TransferSyntaxUID
        if "TransferSyntaxUID" in getattr(ds, "file_meta", {})
        else None
    )
    bits, rep = int(ds.BitsAllocated), int(ds.get("PixelRepresentation", 0) or 0)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if (
        ts is not None
        and not ts.is_compressed
        and ts.is_little_endian
        and spp == 1
        and (bits, rep) in _DTYPES
        and "FloatPixelData" not in ds
    ):
        data = _pixel_bytes(ds)
        raw = np.frombuffer(data, dtype=_DTYPES[(bits, rep)], count=nf * rows * cols)
        bits_stored = int(ds.get("BitsStored", bits) or bits)
        if bits_stored < bits:  # mask unused high bits, sign-extend if signed
            raw = raw.astype(np.int64)
            raw &= (1 << bits_stored) - 1
            if rep == 1:
                raw = np.where(raw >= 1 << (bits_stored - 1), raw - (1 << bits_stored), raw)
        return raw.reshape(nf, rows, cols)
    arr = ds.pixel_array
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise NenscopeError(f"unsupported pixel layout {arr.shape} (colour or multi-sample image)")
    return arr


def _real_world_bqml(ds: Dataset) -> tuple[float, float] | None:
    """(slope, intercept) of a real-world value mapping in Bq/ml, or ``None``."""
    rwvm = get(ds, "RealWorldValueMappingSequence")
    if not rwvm and "SharedFunctionalGroupsSequence" in ds:  # enhanced multi-frame images
        try:
            rwvm = ds.SharedFunctionalGroupsSequence[0].get("RealWorldValueMappingSequence")
        except Exception:
            rwvm = None
    try:
        for item in rwvm or []:
            code = item.MeasurementUnitsCodeSequence[0].CodeValue
            if str(code).replace(" ", "").lower() in ("bq/ml", "bqml", "{bq}/ml"):
                slope = float(item.RealWorldValueSlope)
                intercept = float(item.get("RealWorldValueIntercept", 0.0) or 0.0)
                return slope, intercept
    except Exception:
        return None
    return None


def rescale(ds: Dataset, notes: list[str] | None = None) -> tuple[float, float, str | None]:
    """(slope, intercept, units) of one instance.

    A real-world value mapping in Bq/ml (Siemens/GE quantitative SPECT) wins over the
    modality rescale; otherwise RescaleSlope/Intercept (0028,1053)/(0028,1052) and Units.
    A slope that is absent, zero, negative or not a number is refused for PET (the values
    would be read as activity they are not); for CT the default (slope 1, intercept 0) is
    used with a note in ``notes``; NM images, whose IOD has no modality rescale, may lack it.

    Raises:
        NenscopeError: the PET/NM rescale is unusable (naming the tag and the value).
    """
    units = get_str(ds, "Units")
    modality = (get_str(ds, "Modality") or "").upper()
    mapped = _real_world_bqml(ds)
    if mapped is not None:
        return mapped[0], mapped[1], "BQML"
    if "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds:
        return 1.0, 0.0, units  # enhanced image: highdicom applies the functional groups' rescale
    if units is None and modality == "CT":
        units = "HU"
    slope, bad_slope = number(ds, "RescaleSlope")
    intercept, bad_intercept = number(ds, "RescaleIntercept")
    problem = bad_slope or (
        f"{tag_name('RescaleSlope')} = {slope:g} is not positive"
        if slope is not None and slope <= 0
        else None
    )
    if slope is None and problem is None and modality in ("PT", "CT"):
        problem = f"{tag_name('RescaleSlope')} is absent (type 1 in the {modality} Image module)"
    problem = problem or bad_intercept
    if problem is None:
        return (1.0 if slope is None else slope), (intercept or 0.0), units
    if modality == "CT":
        if notes is not None and problem not in notes:
            notes.append(f"{problem}: slope 1 and intercept 0 assumed for the CT")
        return (slope if slope and slope > 0 else 1.0), (intercept or 0.0), units
    raise NenscopeError(
        f"{problem}: the {modality or 'image'} values cannot be scaled to their units; "
        "refusing to read stored values as activity"
    )


def _ipp(ds: Dataset) -> list[float] | None:
    """ImagePositionPatient, top level or (NM) in DetectorInformationSequence (0054,0022)."""
    ipp = get_floats(ds, "ImagePositionPatient", 3)
    if ipp is None and "DetectorInformationSequence" in ds:
        try:
            ipp = get_floats(ds.DetectorInformationSequence[0], "ImagePositionPatient", 3)
        except Exception:
            ipp = None
    return ipp


def _plane(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row cosine, column cosine, pixel spacing [row, col]) of an instance."""
    iop = get_floats(ds, "ImageOrientationPatient", 6)
    if iop is None and "DetectorInformationSequence" in ds:
        try:
            iop = [float(v) for v in ds.DetectorInformationSequence[0].ImageOrientationPatient]
        except Exception:
            iop = None
    if iop is None:
        raise MissingDataError("ImageOrientationPatient", tag="(0020,0037)")
    row, col = np.array(iop[:3]), np.array(iop[3:])
    if not (
        0.99 < np.linalg.norm(row) < 1.01
        and 0.99 < np.linalg.norm(col) < 1.01
        and abs(row @ col) < 1e-3
    ):
        raise NenscopeError(
            f"ImageOrientationPatient (0020,0037) is not two orthonormal vectors: {iop}"
        )
    spacing = get_floats(ds, "PixelSpacing", 2)
    if spacing is None or min(spacing) <= 0:
        raise MissingDataError("PixelSpacing", tag="(0028,0030)")
    return row / np.linalg.norm(row), col / np.linalg.norm(col), np.array(spacing)


def _stack_geometry(
    positions: np.ndarray, normal: np.ndarray, pixel_mm: float, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Order slices and decide stacking vs resampling.

    Args:
        positions: (n, 3) slice origins in LPS mm.
        normal: unit slice normal (row × column).

    Returns:
        order (indices, axis 0 along -normal), target offsets along -normal for resampling
        (``None`` when stacked as is) and the slice spacing in mm.
    """
    d = -(positions @ normal)  # increasing along -normal, highdicom's convention
    order = np.argsort(d, kind="stable")
    d = d[order]
    n = len(d)
    if n == 1:
        return order, None, 0.0
    steps = np.diff(d)
    median = float(np.median(steps))
    if median <= 1e-6 or np.any(steps < 1e-3 * max(median, 1e-3)):
        repeats = int(np.sum(steps < 1e-3 * max(median, 1e-3)))
        raise NenscopeError(
            f"{repeats} slice position(s) repeat in this series (dynamic, gated or multi-bed frames "
            "stored in one series); split it by time frame before loading"
        )
    # gantry tilt: the stacking direction must follow the normal
    p = positions[order]
    stack = p[-1] - p[0]
    cosang = abs(float(stack @ normal)) / float(np.linalg.norm(stack))
    tilt = float(np.degrees(np.arccos(min(1.0, cosang))))
    if tilt > TILT_TOLERANCE_DEG:
        raise NenscopeError(
            f"slices are stacked at {tilt:.2f}° from their normal (gantry/detector tilt); "
            "tilted series are not supported: reconstruct or reslice without tilt"
        )
    if steps.max() > GAP_FACTOR * median:
        k = int(np.argmax(steps))
        raise NenscopeError(
            f"gap of {steps[k]:.2f} mm between slices {k} and {k + 1} (median spacing {median:.2f} mm):"
            " slices are missing from this series; refusing to interpolate across the gap"
        )
    mean = (d[-1] - d[0]) / (n - 1)
    offset = float(np.max(np.abs(d - (d[0] + mean * np.arange(n)))))
    if steps.max() - steps.min() <= 1e-3 * mean:
        return order, None, float(mean)
    if offset <= REGULAR_TOLERANCE * mean:
        warnings.append(
            f"slice spacing varies {steps.min():.3f}–{steps.max():.3f} mm; every slice lies within "
            f"{offset:.3f} mm of a regular {mean:.4f} mm grid (tolerance {REGULAR_TOLERANCE:.0%} of "
            "the spacing), so slices were stacked without resampling"
        )
        return order, None, float(mean)
    m = int(np.floor((d[-1] - d[0]) / median + 1e-6)) + 1
    targets = d[0] + median * np.arange(m)
    warnings.append(
        f"slice spacing varies {steps.min():.3f}–{steps.max():.3f} mm (largest offset {offset:.3f} mm "
        f"from a regular grid): resampled linearly onto {m} slices at {median:.4f} mm"
    )
    return order, targets - d[0], median


def _resample_axis0(arr: np.ndarray, d: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 from positions ``d`` to ``targets`` (both ascending)."""
    idx = np.clip(np.searchsorted(d, targets, side="right") - 1, 0, len(d) - 2)
    w = ((targets - d[idx]) / (d[idx + 1] - d[idx])).astype(np.float32)[:, None, None]
    return arr[idx] * (1 - w) + arr[idx + 1] * w


def _check_slice_count(info: SeriesInfo) -> None:
    """PET: fewer files than NumberOfSlices (0054,0081) announces means slices are missing
    (a gap between slices is found from their positions; this also finds a missing end)."""
    if info.kind != "PT":
        return
    expected = get_float(info.datasets[0], "NumberOfSlices")
    n = len(info.datasets)
    if expected is None or expected != int(expected) or n >= expected:
        return
    present = {get_float(ds, "ImageIndex") for ds in info.datasets}
    missing = [k for k in range(1, int(expected) + 1) if float(k) not in present]
    which = f" (ImageIndex {', '.join(map(str, missing[:5]))}{'…' if len(missing) > 5 else ''})"
    raise NenscopeError(
        f"series {info.series_instance_uid} holds {n} of the {int(expected)} slices its "
        f"header announces (NumberOfSlices (0054,0081)){which if len(missing) < n else ''}: "
        "slices are missing or unreadable (see nenscope info); refusing an incomplete volume"
    )


def _stack_pixels(
    datasets: list[Dataset],
    sources: list[str],
    factors: list[tuple[float, float]],
    shape: tuple[int, int],
) -> np.ndarray:
    """The slices' rescaled values (slope, intercept per slice) stacked as float32, read in
    blocks of slices on a few threads (:mod:`nenscope.parallel`: the file reads and the
    rescaling release the GIL; the same values as one loop)."""
    out = np.empty((len(datasets), *shape), dtype=np.float32)

    def fill(block: slice) -> None:
        for i in range(block.start, block.stop):
            try:
                px = _pixels(datasets[i])
            except Exception as exc:
                raise NenscopeError(
                    f"cannot decode pixel data of {sources[i]} ({type(exc).__name__}: "
                    f"{str(exc)[:100]}); the series is incomplete"
                ) from exc
            slope, intercept = factors[i]
            np.multiply(px[0], np.float32(slope), out=out[i], casting="unsafe")
            if intercept:
                out[i] += np.float32(intercept)

    thread_map(fill, axis0_blocks(len(datasets)))
    return out


def _load_single_frame(
    info: SeriesInfo, slice_scale: Callable[[Dataset], float] | None = None
) -> LoadedSeries:
    warnings: list[str] = []
    skipped: list[SkippedFile] = []
    datasets, sources = info.datasets, info.sources
    row, col, spacing = _plane(datasets[0])
    shape = (
        int(_need(datasets[0], "Rows", "(0028,0010)")),
        int(_need(datasets[0], "Columns", "(0028,0011)")),
    )
    check_grid((len(datasets), *shape), (*spacing,), f"series {info.series_instance_uid}")
    _check_slice_count(info)
    positions = []
    for ds in datasets:
        r2, c2, s2 = _plane(ds)
        if np.abs(r2 - row).max() > 1e-3 or np.abs(c2 - col).max() > 1e-3:
            raise NenscopeError(
                "slices of this series have different ImageOrientationPatient "
                "(0020,0037); it is not one volume"
            )
        if (
            np.abs(s2 - spacing).max() > 1e-3 * spacing.max()
            or (int(ds.Rows), int(ds.Columns)) != shape
        ):
            raise NenscopeError(
                "slices of this series differ in PixelSpacing (0028,0030) or "
                "Rows/Columns; it is not one volume"
            )
        ipp = _ipp(ds)
        if ipp is None:
            raise MissingDataError("ImagePositionPatient", tag="(0020,0032)")
        positions.append(ipp)
    normal = np.cross(row, col)
    pos = np.asarray(positions)
    order, targets, spacing_z = _stack_geometry(pos, normal, float(spacing.min()), warnings)
    units = None
    keep, factors = [], []
    for k in order:
        ds = datasets[k]
        slope, intercept, u = rescale(ds, warnings)
        units = units or u
        if slice_scale is not None:  # e.g. per-slice decay correction (DecayCorrection NONE)
            scale = slice_scale(ds)
            slope, intercept = slope * scale, intercept * scale
        factors.append((slope, intercept))
        keep.append(ds)
    out = _stack_pixels(keep, [sources[k] for k in order], factors, shape)
    first = pos[order[0]]
    if targets is not None:
        d = -(pos[order] @ normal)
        out = _resample_axis0(out, d - d[0], targets)
    vol = hd.Volume.from_attributes(
        array=out,
        image_position=first.tolist(),
        image_orientation=[*row, *col],
        pixel_spacing=spacing.tolist(),
        spacing_between_slices=spacing_z
        if spacing_z > 0
        else float(
            get_float(datasets[0], "SliceThickness")
            or get_float(datasets[0], "SpacingBetweenSlices")
            or 1.0
        ),
        coordinate_system="PATIENT",
        frame_of_reference_uid=info.frame_of_reference_uid,
    )
    return LoadedSeries(vol, keep, units, warnings, skipped)


def _load_multi_frame(info: SeriesInfo) -> LoadedSeries:
    if len(info.datasets) != 1:
        raise NenscopeError(
            f"series {info.series_instance_uid} holds {len(info.datasets)} multi-frame "
            "instances; one reconstructed volume per series is expected"
        )
    ds = info.datasets[0]
    warnings: list[str] = []
    what = f"series {info.series_instance_uid}"
    rows, cols = int(_need(ds, "Rows", "(0028,0010)")), int(_need(ds, "Columns", "(0028,0011)"))
    check_grid((n_frames(ds), rows, cols), (), what)
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        try:
            vol = hd.Image.from_dataset(ds, copy=False).get_volume(dtype=np.float32)
        except Exception as exc:
            raise NenscopeError(
                f"enhanced multi-frame image cannot be read as a volume: {exc}"
            ) from exc
        check_grid(vol.spatial_shape, vol.spacing, what)
        _, _, units = rescale(ds, warnings)
        return LoadedSeries(vol, [ds], units, warnings)
    # Classic NM multi-frame (reconstructed SPECT): frame k lies at
    # ImagePositionPatient + k · SpacingBetweenSlices · (row × column) (PS3.3 C.8.4.15).
    row, col, spacing = _plane(ds)
    ipp = _ipp(ds)
    if ipp is None:
        raise MissingDataError(
            "ImagePositionPatient", tag="(0020,0032) in DetectorInformationSequence (0054,0022)"
        )
    step = get_float(ds, "SpacingBetweenSlices")
    if step is None or step <= 0:
        step = get_float(ds, "SliceThickness")
        if step is None or step <= 0:
            raise MissingDataError("SpacingBetweenSlices", tag="(0018,0088)")
        warnings.append(
            "SpacingBetweenSlices (0018,0088) absent: SliceThickness used as the slice spacing"
        )
    check_grid((n_frames(ds), rows, cols), (step, *spacing), what)
    try:
        px = _pixels(ds)
    except Exception as exc:
        raise NenscopeError(
            f"cannot decode pixel data ({type(exc).__name__}: {str(exc)[:100]})"
        ) from exc
    slope, intercept, units = rescale(ds, warnings)
    arr = px.astype(np.float32) * np.float32(slope)
    if intercept:
        arr += np.float32(intercept)
    # Frames run along +normal; highdicom's convention runs along -normal: reverse (a view).
    normal = np.cross(row, col)
    last = np.asarray(ipp) + (arr.shape[0] - 1) * step * normal
    vol = hd.Volume.from_attributes(
        array=np.ascontiguousarray(arr[::-1]),
        image_position=last.tolist(),
        image_orientation=[*row, *col],
        pixel_spacing=spacing.tolist(),
        spacing_between_slices=step,
        coordinate_system="PATIENT",
        frame_of_reference_uid=info.frame_of_reference_uid,
    )
    return LoadedSeries(vol, [ds], units, warnings)


def load_series(
    source: SeriesInfo | str | os.PathLike,
    *,
    series_uid: str | None = None,
    slice_scale: Callable[[Dataset], float] | None = None,
) -> LoadedSeries:
    """Load one image series (PT, CT, reconstructed NM) as a float32 volume of rescaled values.

    Args:
        source: a :class:`SeriesInfo` from :func:`discover`, or a folder/zip/file path.
        series_uid: with a path, the SeriesInstanceUID to load (needed when the path holds
            more than one image series).
        slice_scale: a factor per single-frame instance applied with its rescale (the
            per-slice decay correction of :func:`nenscope.imaging.suvtime.slice_decay_factors`).

    Returns:
        :class:`LoadedSeries` (volume in highdicom's slice order, headers, units, warnings).

    Raises:
        NenscopeError: no image series, ambiguous choice, missing geometry tags, irregular
            geometry beyond the policy in this module's docstring, a grid beyond
            :mod:`nenscope.imaging.limits`, an unusable PET rescale, undecodable pixels.
    """
    if not isinstance(source, SeriesInfo):
        disc = discover(source)
        if series_uid is not None:
            source = disc.get(series_uid)
        else:
            images = disc.of_kind("PT", "CT", "NM")
            if len(images) != 1:
                names = ", ".join(f"{s.modality} {s.series_instance_uid}" for s in images) or "none"
                raise NenscopeError(
                    f"{len(images)} image series in {source} ({names}); choose one by series UID"
                )
            source = images[0]
    if source.kind not in ("PT", "CT", "NM"):
        raise NenscopeError(
            f"series {source.series_instance_uid} is {source.kind} ({source.modality}), "
            "not a PET, CT or reconstructed SPECT volume"
        )
    try:
        multi = any(n_frames(ds) > 1 for ds in source.datasets)
        return _load_multi_frame(source) if multi else _load_single_frame(source, slice_scale)
    except (
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        OverflowError,
        ZeroDivisionError,
        struct.error,
    ) as exc:
        # Malformed headers that the explicit checks above do not name: still a clear error.
        raise NenscopeError(
            f"series {source.series_instance_uid} has a malformed header "
            f"({type(exc).__name__}: {str(exc)[:160]})"
        ) from exc


def series_geometry(
    info: SeriesInfo,
) -> tuple[tuple[int, int, int], tuple[float, float, float], list[str]]:
    """Shape and voxel spacing (slice, row, column; mm) of a series from its headers only.

    Applies the same slice policy as :func:`load_series` without reading pixel data.

    Raises:
        NenscopeError: the headers do not describe one volume (see the module docstring).
    """
    if info.kind not in ("PT", "CT", "NM"):
        raise NenscopeError(f"{info.kind} series has no image grid")
    warnings: list[str] = []
    ds0 = info.datasets[0]
    row, col, spacing = _plane(ds0)
    rows, cols = int(_need(ds0, "Rows", "(0028,0010)")), int(_need(ds0, "Columns", "(0028,0011)"))
    try:
        nf = n_frames(ds0)
    except ValueError as exc:
        raise NenscopeError(str(exc)) from exc
    check_grid((max(nf, len(info.datasets)), rows, cols), (*spacing,), info.series_instance_uid)
    _check_slice_count(info)
    if nf > 1 or len(info.datasets) == 1:
        step = get_float(ds0, "SpacingBetweenSlices") or get_float(ds0, "SliceThickness") or 0.0
        return (nf, rows, cols), (float(step), float(spacing[0]), float(spacing[1])), warnings
    positions = []
    for ds in info.datasets:
        ipp = _ipp(ds)
        if ipp is None:
            raise MissingDataError("ImagePositionPatient", tag="(0020,0032)")
        positions.append(ipp)
    order, targets, step = _stack_geometry(
        np.asarray(positions), np.cross(row, col), float(spacing.min()), warnings
    )
    n = len(order) if targets is None else len(targets)
    return (n, rows, cols), (float(step), float(spacing[0]), float(spacing[1])), warnings
