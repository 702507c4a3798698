"""Feature extraction entry points: arrays (scikit-image style), Volumes and labelled lesions."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.radiomics._kernels import bounding_box
from nenscope.radiomics._texture import build_lattice
from nenscope.radiomics.glcm import glcm_feature_set
from nenscope.radiomics.glrlm import glrlm_feature_set
from nenscope.radiomics.intensity import (
    histogram_features,
    ivh_features,
    local_intensity_features,
    statistics_features,
)
from nenscope.radiomics.morphology import morphology_features
from nenscope.radiomics.neighbourhood import neighbourhood_feature_set
from nenscope.radiomics.processing import discretise, process_roi
from nenscope.radiomics.settings import RadiomicsSettings, load_settings, preset
from nenscope.radiomics.zones import zone_feature_set


def resolve_settings(settings: RadiomicsSettings | str | os.PathLike | None) -> RadiomicsSettings:
    """Settings object, preset name (``"ibsi-c"``), path of a YAML file, or ``None``
    (the ``pet-default`` preset)."""
    if settings is None:
        return preset("pet-default")
    if isinstance(settings, RadiomicsSettings):
        return settings
    text = str(settings)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return load_settings(text)
    return preset(text)


#: Most grey levels a discretisation may give (texture matrices grow with its square), most
#: intensity-volume-histogram bins (one array), and most voxels of an interpolated ROI box:
#: checked before anything is allocated.
MAX_GREY_LEVELS = 2048
MAX_IVH_LEVELS = 1_000_000
MAX_ROI_BOX_VOXELS = 2**27


def _levels(method: str, vals: np.ndarray, number: int, width: float, lower: float | None) -> int:
    if method == "fbn":
        return int(number)
    if method == "fbs":
        lo = float(vals.min()) if lower is None else float(lower)
        return int(np.floor((float(vals.max()) - lo) / width)) + 1 if width > 0 else 0
    return int(np.rint(vals.max())) if method == "none" else 0


def check_roi_inputs(image: np.ndarray, mask: np.ndarray, spacing_mm, settings) -> None:
    """Refuse, before anything is allocated, a ROI with non-finite intensities, or settings that
    would give more than :data:`MAX_GREY_LEVELS` grey levels or an interpolated box of more
    than :data:`MAX_ROI_BOX_VOXELS` voxels (a wrong SUV scale or bin width, not a lesion)."""
    inside = np.asarray(mask) > 0
    if inside.shape != np.shape(image):
        raise NenscopeError(f"mask shape {inside.shape} differs from image shape {np.shape(image)}")
    vals = np.asarray(image)[inside]
    if vals.size and not np.all(np.isfinite(vals)):
        bad = int(np.count_nonzero(~np.isfinite(vals)))
        raise NenscopeError(f"the ROI holds {bad} NaN or infinite intensities")
    if not vals.size:
        return
    lo_r, hi_r = settings.resegment_range or (None, None)
    vals = np.clip(
        vals, lo_r if lo_r is not None else -np.inf, hi_r if hi_r is not None else np.inf
    )
    lower = settings.bin_lower_bound if settings.bin_lower_bound is not None else lo_r
    checks = (
        ("", settings.discretisation, settings.bin_number, settings.bin_width, lower),
        (
            "IVH ",
            settings.ivh_discretisation,
            settings.ivh_bin_number,
            settings.ivh_bin_width,
            lo_r,
        ),
    )
    for (what, method, number, width, low), limit in zip(
        checks, (MAX_GREY_LEVELS, MAX_IVH_LEVELS), strict=True
    ):
        n = _levels(method, vals, number or 0, width or 0.0, low)
        if n > limit:
            raise NenscopeError(
                f"{what}discretisation {method} gives {n} grey levels over intensities "
                f"{float(vals.min()):.4g}–{float(vals.max()):.4g}; the limit is {limit} "
                "(check the bin width and the image scale, e.g. the SUV)"
            )
    if settings.new_spacing_mm is not None:
        lo_i, hi_i = bounding_box(np.ascontiguousarray(inside))
        extent = (np.asarray(hi_i) - np.asarray(lo_i)) * np.asarray(spacing_mm, dtype=float)
        new = [
            s if t is None else float(t)
            for s, t in zip(spacing_mm, settings.new_spacing_mm, strict=True)
        ]
        n_box = float(np.prod(np.ceil(extent / np.asarray(new, dtype=float)) + 1))
        if n_box > MAX_ROI_BOX_VOXELS:
            raise NenscopeError(
                f"interpolation to {new} mm gives a box of {n_box:.3g} voxels; the limit is "
                f"{MAX_ROI_BOX_VOXELS}"
            )


def _tight_box(mask: np.ndarray) -> tuple[slice, slice, slice]:
    """Bounding box of the non-zero voxels (one compiled pass)."""
    lo, hi = bounding_box(np.ascontiguousarray(mask, dtype=np.bool_))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def extract_features(
    image: np.ndarray,
    mask: np.ndarray,
    spacing_mm,
    settings: RadiomicsSettings | str | None = None,
) -> dict[str, float]:
    """IBSI-1 features of one ROI, keyed by IBSI feature tag (e.g. ``cm_contrast_3D_avg``).

    Parameters
    ----------
    image: 3D intensities indexed (slice, row, column), e.g. SUV or HU.
    mask: ROI of the same shape (non-zero = inside).
    spacing_mm: voxel spacing (slice, row, column) in mm.
    settings: :class:`RadiomicsSettings`, a preset name (``"ibsi-c"``), the path of a YAML
        settings file, or ``None`` for the ``pet-default`` preset.

    Returns a flat ``{tag: value}`` dict; morphology and intensity features come first, then the
    texture families in the spaces that ``settings.texture_spaces`` asks for.
    Reference: Zwanenburg A et al., Radiology 2020;295:328-338 and the IBSI reference manual.
    """
    settings = resolve_settings(settings)
    check_roi_inputs(image, mask, spacing_mm, settings)
    roi = process_roi(image, mask, spacing_mm, settings)
    fam = set(settings.families)
    if settings.filter:  # IBSI-2: features of the response map (ROI from the original image)
        from nenscope.radiomics.filters import apply_filter

        roi.image = apply_filter(roi.image, roi.spacing_mm, settings.filter)
        fam.discard("morph")
    vals = roi.image[roi.int_mask]
    out: dict[str, float] = {}
    # the image keeps a margin for the local-intensity sphere; everything else works on the
    # tight bounding box of the ROI (fewer voxels for the mesh and every texture pass)
    box = _tight_box(roi.morph_mask)
    img_t, morph_t, int_t = roi.image[box], roi.morph_mask[box], roi.int_mask[box]
    if "morph" in fam:
        out.update(
            morphology_features(img_t, morph_t, int_t, roi.spacing_mm, settings.morph_extended)
        )
    if "loc" in fam:
        out.update(
            local_intensity_features(
                roi.image, roi.int_mask, roi.spacing_mm, settings.local_intensity_volume_cm3
            )
        )
    sorted_vals = np.sort(vals) if fam & {"stat", "ih"} else None  # one sort for both
    if "stat" in fam:
        out.update(statistics_features(sorted_vals, presorted=True))
    lower = settings.bin_lower_bound
    if lower is None and settings.resegment_range is not None:
        lower = settings.resegment_range[0]
    bins = {
        "bin_number": settings.bin_number,
        "bin_width": settings.bin_width,
        "lower_bound": lower,
    }
    q_roi, ng = discretise(vals, settings.discretisation, **bins)
    if "ih" in fam:  # discretisation is monotone: sorted intensities give sorted grey levels
        out.update(
            histogram_features(
                discretise(sorted_vals, settings.discretisation, **bins)[0], ng, presorted=True
            )
        )
    if "ivh" in fam:
        # IVH range: the re-segmentation range when given, else the ROI min/max (fbn: always ROI)
        rng = roi.resegment_range if settings.ivh_discretisation in ("fbs", "none") else None
        out.update(
            ivh_features(
                vals,
                settings.ivh_discretisation,
                bin_number=settings.ivh_bin_number,
                bin_width=settings.ivh_bin_width,
                value_range=rng,
            )
        )
    texture = fam & {"cm", "rlm", "szm", "dzm", "ngt", "ngl"}
    if texture:
        # every texture family only compares grey levels (or needs their values): build them on
        # compact indices 1..n of the levels present and hand the level values to the formulas
        present = np.bincount(q_roi) > 0
        levels = np.flatnonzero(present)
        index = np.cumsum(present)  # grey level -> compact index
        qc = np.zeros(int_t.shape, dtype=np.int64)
        qc[int_t] = index[
            q_roi
        ]  # same voxel order: int_t is a box of int_mask holding all its voxels
        n_present = int(levels.size)
        spaces = settings.texture_spaces
        reach = max(
            settings.glcm_distance if "cm" in texture else 1,
            settings.ngtdm_distance if "ngt" in texture else 1,
            settings.ngldm_distance if "ngl" in texture else 1,
        )
        lattice = build_lattice(qc, int_t, reach) if texture & {"cm", "rlm", "ngt", "ngl"} else None
        if "cm" in texture:
            out.update(
                glcm_feature_set(
                    qc,
                    int_t,
                    n_present,
                    spaces,
                    settings.glcm_distance,
                    levels=levels,
                    ng_nominal=ng,
                    lattice=lattice,
                )
            )
        if "rlm" in texture:
            out.update(
                glrlm_feature_set(qc, int_t, n_present, spaces, levels=levels, lattice=lattice)
            )
        if texture & {"szm", "dzm"}:
            out.update(
                zone_feature_set(
                    qc, int_t, morph_t, n_present, spaces, tuple(texture), levels=levels
                )
            )
        if texture & {"ngt", "ngl"}:
            out.update(
                neighbourhood_feature_set(
                    qc,
                    int_t,
                    n_present,
                    spaces,
                    ngtdm_distance=settings.ngtdm_distance,
                    ngldm_distance=settings.ngldm_distance,
                    ngldm_alpha=settings.ngldm_alpha,
                    families=tuple(texture),
                    levels=levels,
                    lattice=lattice,
                )
            )
    return out


def slice_axis_order(affine) -> tuple[int, int, int]:
    """Axis order that puts the slice axis first: the array axis whose direction is closest to
    the patient head-feet axis (DICOM series: already axis 0; NIfTI: usually axis 2).
    2D / 2.5D texture features work slice by slice along axis 0."""
    cols = np.asarray(affine, dtype=float)[:3, :3]
    unit = cols / np.linalg.norm(cols, axis=0, keepdims=True)
    k = int(np.argmax(np.abs(unit[2])))
    return (k, *[a for a in range(3) if a != k])


def _volume_arrays(volume) -> tuple[np.ndarray, tuple[float, float, float], tuple[int, int, int]]:
    arr = np.asarray(volume.array)
    if arr.ndim != 3:
        raise NenscopeError(f"radiomics needs a single-channel 3D volume, got shape {arr.shape}")
    order = slice_axis_order(volume.affine)
    spacing = tuple(float(volume.spacing[a]) for a in order)
    return np.transpose(arr, order), spacing, order


def extract_volume_features(
    volume, mask, settings: RadiomicsSettings | str | None = None
) -> dict[str, float]:
    """:func:`extract_features` on a ``highdicom.Volume`` and a mask (Volume or array).

    A mask Volume must share the image geometry (same affine and shape).
    """
    image, spacing, order = _volume_arrays(volume)
    if hasattr(mask, "array"):
        if hasattr(volume, "geometry_equal") and not volume.geometry_equal(mask):
            raise NenscopeError(
                "mask geometry differs from the image geometry; resample the mask first"
            )
        mask = np.asarray(mask.array)
    mask = np.asarray(mask)
    if mask.shape != np.asarray(volume.array).shape:
        raise NenscopeError(
            f"mask shape {mask.shape} differs from image shape {volume.array.shape}"
        )
    return extract_features(image, np.transpose(mask, order), spacing, settings)


def lesion_features(
    volume,
    labels,
    settings: RadiomicsSettings | str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, float]]:
    """Features of every lesion in a label map (one dict per label > 0, sorted by label).

    ``volume`` is a ``highdicom.Volume`` (or an ``(array, spacing_mm)`` tuple, slice axis
    first); ``labels`` an integer array or Volume of the same geometry. Each dict starts with
    ``"label"``; ``progress(done, total)`` is called after each lesion (for a progress bar).
    Lesions too small for the features (e.g. one voxel) get a dict with ``"error"`` instead of
    raising, so one bad lesion does not stop a cohort run.
    """
    lab = np.asarray(labels.array if hasattr(labels, "array") else labels)
    if isinstance(volume, tuple):
        image, spacing = np.asarray(volume[0]), tuple(float(s) for s in volume[1])
    else:
        if lab.shape != np.asarray(volume.array).shape:
            raise NenscopeError(
                f"label map shape {lab.shape} differs from image shape {volume.array.shape}"
            )
        image, spacing, order = _volume_arrays(volume)
        lab = np.transpose(lab, order)
    if lab.shape != image.shape:
        raise NenscopeError(f"label map shape {lab.shape} differs from image shape {image.shape}")
    settings = resolve_settings(settings)
    ids = [int(i) for i in np.unique(lab) if i > 0]
    results: list[dict] = []
    for n, lid in enumerate(ids):
        try:
            feats = extract_features(image, lab == lid, spacing, settings)
            results.append({"label": lid, **feats})
        except (NenscopeError, ValueError, RuntimeError) as exc:
            results.append({"label": lid, "error": str(exc)})
        if progress is not None:
            progress(n + 1, len(ids))
    return results


def write_feature_table(rows: list[dict], path) -> None:
    """Write per-lesion results (as from :func:`lesion_features`) as a wide CSV: one row per
    lesion, ``label`` first, then every feature tag seen (empty where a lesion lacks it). This
    is the table ``nenscope radiomics fit`` reads."""
    import csv

    tags: list[str] = []
    for r in rows:
        tags += [k for k in r if k != "label" and k not in tags]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", *tags])
        for r in rows:
            cells = []
            for t in tags:
                v = r.get(t, "")
                cells.append("" if isinstance(v, float) and np.isnan(v) else v)
            w.writerow([r.get("label", ""), *cells])
