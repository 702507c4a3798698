"""The pipeline entry: :func:`analyze` (study -> :class:`Findings`).

Stages and their passes over the emission grid (a "pass" reads or writes the whole volume):

- SUV volume (1), CT resampled to the emission grid (1), body mask (~3);
- reference regions on a coarse grid (block mean 1, then coarse-grid work only);
- segmentation: threshold and exclusion (1-2), connected components (1), size filter (2),
  ordering (1);
- metrics, SUVpeak, scores: crops around lesions only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import cc3d
import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import (
    ball_mask,
    indices_to_lps,
    patient_axes,
    resample_array,
    spacing_from_affine,
)
from nenscope.analysis.findings import FdgOnlyLesion, Findings, Summary
from nenscope.analysis.matching import align_to
from nenscope.analysis.metrics import Lesion, lesion_pvc, measure_lesions
from nenscope.analysis.options import AnalysisOptions
from nenscope.analysis.physiology import classify_physiological, component_table
from nenscope.analysis.pvc import BASE_FWHM_MM, effective_fwhm_mm
from nenscope.analysis.reference import (
    ReferenceRegions,
    _block_mean,
    body_mask,
    find_reference_regions,
    voi_stats,
)
from nenscope.analysis.rules import (
    UptakeRule,
    agent_class_of,
    physiological_rules,
    score_rules,
)
from nenscope.analysis.scores import (
    krenning_score,
    netpet_grade,
    netpet_lesion,
    prrt_eligibility,
    sstr_rads,
)
from nenscope.analysis.segmentation import (
    label_max,
    liver_threshold,
    organ_thresholds,
    physiological_mask,
    segment_lesions,
    split_height,
    split_touching,
)
from nenscope.analysis.suvpeak import suv_peak_map, suv_peak_per_label
from nenscope.errors import NenscopeError

__all__ = ["analyze", "analyze_volume", "VolumeAnalysis"]

# local background for the extrahepatic threshold without bowel/pancreas masks: block size
# (mm) and median window (blocks), i.e. ~4 cm, the scale between lesions and abdominal organs
_BG_BLOCK_MM = 8.0
_BG_WINDOW_BLOCKS = 5
# upper quartile rather than the median: a thin organ (the pancreas is 2-3 cm thick) fills
# less than half of the window, a lesion of 1.5 cm only ~5 % of it
_BG_PERCENTILE = 75
_GLANDS = ("adrenal gland", "uncinate process", "pituitary")

OrganMasks = Mapping[str, "hd.Volume | NDArray[np.bool_]"]


@dataclass
class VolumeAnalysis:
    """Intermediate result of one emission volume (used twice with an FDG study)."""

    suv: hd.Volume
    agent_class: str
    reference: ReferenceRegions
    labels: NDArray[np.int32]
    lesions: list[Lesion]
    threshold_suv: float
    method: str
    suppressed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ct_on_grid: NDArray | None = None


def _masks_on_grid(masks: OrganMasks | None, target: hd.Volume) -> dict[str, NDArray[np.bool_]]:
    out: dict[str, NDArray[np.bool_]] = {}
    for name, m in (masks or {}).items():
        if isinstance(m, hd.Volume):
            arr = resample_array(
                np.asarray(m.array).astype(np.uint8),
                m.affine,
                target.affine,
                target.spatial_shape,
                order=0,
            )
            out[name] = arr > 0
        else:
            arr = np.asarray(m)
            if arr.shape != tuple(target.spatial_shape):
                raise NenscopeError(
                    f"organ mask {name!r} has shape {arr.shape}, the emission grid "
                    f"{tuple(target.spatial_shape)}: give it as a volume with its geometry"
                )
            out[name] = arr.astype(bool)
    return out


def _centroid(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Index centroid of a mask from its three axis projections (cheap)."""
    total = float(mask.sum())
    if total == 0:
        return (np.array(mask.shape, dtype=float) - 1) / 2
    out = []
    for ax in range(3):
        other = tuple(a for a in range(3) if a != ax)
        prof = mask.sum(axis=other, dtype=np.int64)
        out.append(float((prof * np.arange(prof.size)).sum()) / total)
    return np.array(out)


def _slice_noise_floor(
    arr: NDArray,
    smooth: NDArray,
    body: NDArray[np.bool_],
    spacing: tuple[float, ...],
    z_ax: int,
    k: float,
) -> NDArray[np.float32]:
    """Per-slice noise floor (broadcastable along ``z_ax``) of the smoothed SUV.

    The fine structure is ``smooth - G20(SUV)`` (a 20 mm Gaussian as the local mean); its
    robust SD (1.4826 x MAD) over the body voxels of each slice times ``k``, plus the slice's
    median smoothed SUV.
    """
    sig = [20.0 / 2.3548 / s for s in spacing]
    resid = smooth - ndimage.gaussian_filter(arr, sig)
    n = arr.shape[z_ax]
    floor = np.zeros(n, dtype=np.float32)
    for i in range(n):
        sl = [slice(None)] * 3
        sl[z_ax] = i
        b = body[tuple(sl)]
        if b.sum() < 50:
            continue
        r = resid[tuple(sl)][b]
        mad = float(np.median(np.abs(r - np.median(r))))
        floor[i] = float(np.median(smooth[tuple(sl)][b])) + k * 1.4826 * mad
    shape = [1, 1, 1]
    shape[z_ax] = n
    return floor.reshape(shape)


def _z_range_mm(
    mask: NDArray[np.bool_], affine: NDArray, body_c: NDArray
) -> tuple[float, float] | None:
    objs = ndimage.find_objects(mask.astype(np.uint8))
    if not objs or objs[0] is None:
        return None
    sl = objs[0]
    corners = np.array(
        [
            [a, b, c]
            for a in (sl[0].start, sl[0].stop - 1)
            for b in (sl[1].start, sl[1].stop - 1)
            for c in (sl[2].start, sl[2].stop - 1)
        ],
        dtype=float,
    )
    z = ((corners - body_c) @ np.asarray(affine, dtype=float)[:3, :3].T)[:, 2]
    return float(z.min()), float(z.max())


def _padded_box(mask: NDArray[np.bool_], pad_voxels: int | list[int]) -> tuple[slice, ...] | None:
    """Bounding box of ``mask`` grown by ``pad_voxels`` per axis (clipped), or ``None``."""
    objs = ndimage.find_objects(mask.astype(np.uint8))
    if not objs or objs[0] is None:
        return None
    pads = [pad_voxels] * mask.ndim if isinstance(pad_voxels, int) else pad_voxels
    return tuple(
        slice(max(0, b.start - p), min(d, b.stop + p))
        for b, p, d in zip(objs[0], pads, mask.shape, strict=True)
    )


def _liver_envelope(
    liver_mask: NDArray[np.bool_], spacing: tuple[float, float, float], radius_mm: float = 15.0
) -> NDArray[np.bool_]:
    """The automatic liver mask closed by a ``radius_mm`` ball, holes filled (site naming).

    The automatic mask stops at tissue hotter than the liver, so a metastasis on the liver's
    surface is a bite out of it; closed, the bite is liver again and the lesion is named
    a liver lesion.
    """
    ball = ball_mask(radius_mm, spacing)
    pad = [k // 2 + 1 for k in ball.shape]
    box = _padded_box(liver_mask, pad)
    if box is None:
        return liver_mask
    closed = ndimage.binary_closing(np.pad(liver_mask[box], [(p, p) for p in pad]), structure=ball)[
        tuple(slice(p, -p) for p in pad)
    ]
    out = liver_mask.copy()
    out[box] = ndimage.binary_fill_holes(closed) | liver_mask[box]
    return out


def _liver_edge_threshold(
    liver_mask: NDArray[np.bool_],
    margin_mask: NDArray[np.bool_],
    outside: float | NDArray[np.float32],
    inside_suv: float,
    spacing: tuple[float, float, float],
    fwhm_mm: float,
) -> NDArray[np.float32]:
    """Threshold map over the liver's blurred edge (the margin outside the mask).

    The smoothed image just outside the liver holds a share ``w`` of the liver's uptake: the
    liver mask blurred by the image resolution (``fwhm_mm``: scanner PSF and detection
    filter). The threshold there is ``w x inside_suv + (1 - w) x outside``, the in-liver
    value where the liver dominates and the extrahepatic one a few millimetres out, so a
    lesion next to the liver (a pancreatic-head NET, a node at the porta hepatis) is held
    to the threshold of the tissue it lies in, not the liver's. Never below ``outside``.
    """
    out = np.broadcast_to(np.asarray(outside, dtype=np.float32), liver_mask.shape).copy()
    box = _padded_box(margin_mask, [int(np.ceil(fwhm_mm / s)) for s in spacing])
    if box is None:
        return out
    sigma = [fwhm_mm / 2.3548 / s for s in spacing]
    share = ndimage.gaussian_filter(liver_mask[box].astype(np.float32), sigma)
    rim = margin_mask[box] & ~liver_mask[box]
    blend = share * np.float32(inside_suv) + (1.0 - share) * out[box]
    out[box] = np.where(rim, np.maximum(out[box], blend), out[box])
    return out


def analyze_volume(
    suv: hd.Volume,
    *,
    agent_class: str,
    ct: hd.Volume | None = None,
    organ_masks: OrganMasks | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    mask_origin: str = "user",
) -> VolumeAnalysis:
    """References, lesions and per-lesion metrics of one SUV volume (no cross-study scores).

    Args:
        suv: SUV volume (``highdicom.Volume``, PATIENT coordinates).
        agent_class: ``"sstr"``, ``"fdg"`` or ``"glp1r"`` (rules and detectors).
        ct: CT volume on any grid in the same frame of reference, or ``None``.
        organ_masks: organ masks by name (volumes on any grid, or arrays on the SUV grid).
        options: thresholds, minimum volume, splitting.
        mask_origin: provenance label of ``organ_masks``.
    """
    if options.psf_fwhm_mm is None:
        options = replace(options, psf_fwhm_mm=BASE_FWHM_MM)
    arr = np.asarray(suv.array, dtype=np.float32)
    if arr.ndim != 3:
        raise NenscopeError(f"the emission volume must be 3-D, not {arr.ndim}-D")
    affine = np.asarray(suv.affine, dtype=float)
    spacing = spacing_from_affine(affine)
    warnings: list[str] = []
    ct_grid = None
    if ct is not None:
        ct_grid = resample_array(
            np.asarray(ct.array, dtype=np.float32),
            ct.affine,
            affine,
            arr.shape,
            order=1,
            cval=-1000.0,
        ).astype(np.float32)
    masks = _masks_on_grid(organ_masks, suv)
    x_ax, y_ax, z_ax = patient_axes(affine)
    body = body_mask(arr, spacing, z_ax)
    ref = find_reference_regions(
        arr, spacing, affine, ct_hu=ct_grid, masks=masks, mask_origin=mask_origin, body=body
    )
    warnings.extend(ref.notes)

    # Detection and delineation run on a smoothed copy (one separable Gaussian pass): a
    # matched filter for lesions of ~1 cm, so voxel noise (20-35 % in clinical PET) does not
    # create lesions; metrics are measured on the original SUV.
    sigma = [options.detect_smooth_fwhm_mm / 2.3548 / s for s in spacing]
    smooth = ndimage.gaussian_filter(arr, sigma) if options.detect_smooth_fwhm_mm > 0 else arr
    liver_mask = ref.masks.get("liver")
    box = None
    if liver_mask is not None and options.liver_smooth_fwhm_mm > options.detect_smooth_fwhm_mm:
        pad = 3 * int(np.ceil(options.liver_smooth_fwhm_mm / min(spacing)))
        box = _padded_box(liver_mask, pad)
    if box is not None:
        # the liver's high physiological uptake carries high absolute noise: detect there on
        # a stronger filter (only its bounding box is filtered)
        sig_l = [options.liver_smooth_fwhm_mm / 2.3548 / s for s in spacing]
        strong = ndimage.gaussian_filter(arr[box], sig_l)
        if smooth is arr:
            smooth = arr.copy()
        smooth[box] = np.where(liver_mask[box], strong, smooth[box])

    # thresholds: delineation (lesion extent) and detection (hysteresis)
    t = score_rules()["thresholds"]
    defaults = t["defaults"][agent_class]
    method = options.threshold_method or defaults["threshold_method"]
    detect = options.detect_method or defaults["detect_method"]
    liver = ref.liver
    if liver is None and (method != "fixed" or detect not in ("none", "fixed")):
        warnings.append(
            f"no liver reference: fixed threshold SUV {options.fixed_suv} used instead of "
            f"{method!r} (give a liver mask with --organ-masks)"
        )
        method, detect = "fixed", "none"
    liver_s_mean = liver_s_sd = 0.0
    if liver is not None:
        # liver statistics on the smoothed image: mean in the reference VOI; SD robustly
        # (1.4826 x MAD) over the whole liver mask, which samples the correlated noise of
        # the smoothed image far better than one 3 cm sphere
        liver_s_mean, liver_s_sd, _ = voi_stats(
            smooth,
            ref.masks.get("liver", np.ones(arr.shape, bool)),
            np.asarray(liver.voi_center_ijk),
            float(liver.voi_radius_mm),
            spacing,
        )
        if "liver" in ref.masks:
            core = ndimage.binary_erosion(ref.masks["liver"], iterations=2)
            vals = smooth[core] if core.sum() > 100 else smooth[ref.masks["liver"]]
            liver_s_sd = float(1.4826 * np.median(np.abs(vals - np.median(vals))))

    def threshold_of(name: str) -> float:
        if name == "fixed":
            return float(options.fixed_suv)
        if name == "percist":
            return float(t["percist_factor"]) * liver_s_mean + float(t["percist_k_sd"]) * liver_s_sd
        factor = options.liver_factor
        if factor is None:
            factor = float(defaults["liver_factor"])
        k_sd = (
            options.liver_k_sd if options.liver_k_sd is not None else float(defaults["liver_k_sd"])
        )
        return liver_threshold(liver_s_mean, liver_s_sd, factor=factor, k_sd=k_sd)

    threshold = threshold_of(method)
    detect_suv = None if detect == "none" else threshold_of(detect)
    region_detect: list[tuple[NDArray[np.bool_], float]] = []
    k_detect = defaults.get("liver_detect_k_sd")
    if detect_suv is not None and k_detect is not None and "liver" in ref.masks:
        # inside the homogeneous liver a focus is found when it stands out from the liver's
        # noise (liver mean + k SD of the smoothed liver), not only at PERCIST's
        # measurability level (1.5 x mean + 2 SD): FDG-avid metastases of 1.5-2 cm with
        # twice the liver uptake stay below the latter (scores.toml, docs/analysis.md)
        d_liver = liver_s_mean + float(k_detect) * liver_s_sd
        region_detect.append((ref.masks["liver"], min(detect_suv, d_liver)))
    region_thresholds: list[tuple[NDArray[np.bool_], float]] = []
    extra = options.extrahepatic_liver_fraction
    if extra is None:
        extra = defaults.get("extrahepatic_liver_fraction")
    covered = [r for r in physiological_rules(agent_class) if r.organ in ("bowel", "pancreas")]
    covered_by_masks = bool(covered) and all(any(r.matches(k) for k in masks) for r in covered)
    if options.extrahepatic_liver_fraction is None:
        if extra is not None and covered_by_masks:
            # bowel and pancreas are masked (raised thresholds there): the threshold elsewhere
            # can go below their physiological uptake
            extra = defaults.get("extrahepatic_liver_fraction_masked", extra)
    liver_threshold_suv = None
    threshold_map: NDArray[np.float32] | None = None
    local_bg_range: tuple[float, float] | None = None
    if method == "liver" and liver is not None and extra is not None and "liver" in ref.masks:
        # outside the liver: a fraction of the liver mean; inside the liver the
        # liver-relative value, and over its blurred edge (liver_margin_mm) a blend of the
        # two weighted by the liver's share of the resolution kernel (below)
        liver_threshold_suv = threshold
        margin_mask, _ = physiological_mask(
            arr.shape,
            {"liver": ref.masks["liver"]},
            [UptakeRule("any", "liver", ("liver",), float(t["liver_margin_mm"]), "", "")],
            spacing,
        )
        region_thresholds.append((ref.masks["liver"], threshold))
        threshold = float(extra) * liver_s_mean
        masked = defaults.get("extrahepatic_liver_fraction_masked")
        if (
            masked is not None
            and float(masked) < float(extra)
            and not covered_by_masks
            and options.extrahepatic_liver_fraction is None
        ):
            # No bowel/pancreas masks: the organ rule is applied to the local background
            # instead. Physiological bowel, stomach and pancreas uptake are organ-sized
            # (several cm), lesions of interest smaller: the upper quartile of the smoothed
            # SUV over a ~4 cm neighbourhood (on the ~8 mm block grid of the reference search) is the
            # local background, and the threshold outside the liver is organ_factor x that,
            # clipped between the masked-mode value and the unmasked one. A lesion in cold
            # tissue (nodes, bone, lung, bowel wall) is then reached at the masked-mode level;
            # over a hot organ the threshold stays at the unmasked level.
            lo, hi = float(masked) * liver_s_mean, threshold
            local_bg_range = (lo, hi)
            fb = tuple(max(1, int(round(_BG_BLOCK_MM / sp))) for sp in spacing)
            coarse_bg = ndimage.percentile_filter(
                _block_mean(smooth, fb),
                _BG_PERCENTILE,
                size=int(_BG_WINDOW_BLOCKS),
                mode="nearest",
            )
            bg_thr = np.clip(float(t["organ_factor"]) * coarse_bg, lo, hi)
            for ax, k in enumerate(fb):
                if k > 1:
                    bg_thr = np.repeat(bg_thr, k, axis=ax)
            threshold_map = bg_thr[: arr.shape[0], : arr.shape[1], : arr.shape[2]]
        threshold_map = _liver_edge_threshold(
            ref.masks["liver"],
            margin_mask,
            threshold if threshold_map is None else threshold_map,
            liver_threshold_suv,
            spacing,
            float(np.hypot(options.psf_fwhm_mm, options.detect_smooth_fwhm_mm)),
        )
    noise_floor = None
    k_noise = float(t["noise_k"])
    if k_noise > 0 and body.any():
        # per transaxial slice: median + k x robust SD of the smoothed SUV's fine structure
        # in the body. OSEM noise is highest in the slices of hot organs (liver, kidneys,
        # bladder), so a lesion there must stand out from that slice's noise.
        noise_floor = _slice_noise_floor(arr, smooth, body, spacing, z_ax, k_noise)
    # physiological uptake: raised thresholds over organ masks (user, atlas, or the
    # automatic spleen), and recognised kidney/bladder/brain/heart components removed
    rules = physiological_rules(agent_class) if options.suppress_physiological else []
    organ_regions, suppressed = organ_thresholds(
        smooth,
        {k: v for k, v in ref.masks.items() if k != "liver"},
        rules,
        spacing,
        floor_suv=max(threshold, detect_suv or 0.0),
        organ_factor=float(t["organ_factor"]),
    )

    detectors = {r.auto for r in rules if r.auto}
    # an organ given as a mask needs no detector
    detectors = {d for d in detectors if not any(d in k.lower() for k in masks)}
    body_idx = _centroid(body)
    liver_z = _z_range_mm(ref.masks["liver"], affine, body_idx) if "liver" in ref.masks else None
    if liver_z is not None and liver is not None and liver.voi_center_ijk is not None:
        # an adult liver spans ~15-20 cm: keep the anatomical anchor within 12 cm of the
        # reference VOI even if the automatic mask leaked into neighbouring tissue
        vz = float(((np.asarray(liver.voi_center_ijk) - body_idx) @ affine[:3, :3].T)[2])
        liver_z = (max(liver_z[0], vz - 120.0), min(liver_z[1], vz + 120.0))
    auto_found: list[str] = []

    liver_m = ref.masks.get("liver")

    def _keep_liver_lesions(found: dict[int, str], labels: NDArray[np.int32]) -> dict[int, str]:
        # a focus mostly inside the liver is a liver lesion, never an adrenal gland or the
        # uncinate process next to it (the small-gland priors are position boxes); one
        # almost wholly inside it is never a kidney either (a 32 mm metastasis in the
        # posterior right lobe, 40 ml above the threshold, passed the kidney prior)
        share = {"kidney": 0.8, **{g: 0.5 for g in _GLANDS}}
        limit = {lab: share.get(o.split(" (")[0]) for lab, o in found.items()}
        if liver_m is None or all(v is None for v in limit.values()):
            return found
        n = int(labels.max()) + 1
        inside = np.bincount(labels[liver_m], minlength=n)
        total = np.bincount(labels.ravel(), minlength=n)
        return {
            lab: o
            for lab, o in found.items()
            if limit[lab] is None or inside[lab] < limit[lab] * total[lab]
        }

    gland_ratios = {r.auto: r.max_liver_ratio for r in rules if r.auto and r.max_liver_ratio}
    organ_factor = float(t["organ_factor"])
    vox_ml = float(np.prod(spacing)) / 1000.0

    # watershed depth for splitting, as segment_lesions uses it
    split_h = (
        options.split_min_height_suv
        if options.split_min_height_suv is not None
        else 0.5 * float(np.min(threshold_map if threshold_map is not None else threshold))
    )

    # ... and for touching lesions (as segment_lesions splits them)
    lesion_split_h = split_height(
        threshold_map if threshold_map is not None else threshold,
        options.split_min_height_suv,
        options.split_min_height_fraction,
    )

    def drop_physiological(labels: NDArray[np.int32]) -> NDArray[np.int32]:
        if not detectors:
            return labels
        kw = dict(
            liver_z_range_mm=liver_z,
            liver_suv=liver_s_mean if liver is not None else None,
            gland_max_liver_ratio=gland_ratios,
        )
        comps = component_table(smooth, labels, affine, body_idx)
        found = _keep_liver_lesions(classify_physiological(comps, detectors, **kw), labels)
        if not found:
            return labels
        kidneys = [c for c in comps if found.get(c.label) == "kidney (auto)"]
        lut = np.arange(int(labels.max()) + 1, dtype=np.int32)
        for lab, organ in found.items():
            lut[lab] = 0
            auto_found.append(organ)
        out = lut[labels]
        # A tumour touching a kidney (a pancreatic-tail NET, a node at the hilum, the
        # adrenal gland) joins the kidney's component: the recognised kidney is treated as
        # an organ mask, as with user masks (organ_factor x (median + 2 robust SD) of the
        # organ), and what exceeds that is split off and classified again on its own. Not
        # for FDG, whose renal collecting system (urine) is hotter than the parenchyma.
        next_lab = int(labels.max()) + 1
        for k in kidneys if agent_class != "fdg" else []:
            sl = ndimage.find_objects((labels == k.label).astype(np.uint8))[0]
            comp = labels[sl] == k.label
            # a tumour with uptake like the kidney's (a K3 pancreatic-tail NET, a liver
            # metastasis on the upper pole) is not hotter than it, but it is a blob of its
            # own: the component is split as touching lesions are; the largest piece is the
            # kidney, the others are classified again below
            parts = (
                split_touching(
                    smooth[sl],
                    comp.astype(np.int32),
                    spacing,
                    min_height_suv=lesion_split_h,
                    min_height_fraction=options.split_min_height_fraction,
                )
                if options.split_kidney_lesions
                else comp.astype(np.int32)
            )
            if parts.max() > 1:
                sizes = np.bincount(parts.ravel())
                sizes[0] = 0
                main = int(np.argmax(sizes))
                for p in range(1, sizes.size):
                    if p != main and sizes[p] * vox_ml >= options.min_volume_ml:
                        out[sl][parts == p] = next_lab
                        next_lab += 1
                comp = parts == main
            vals = smooth[sl][comp]
            med = float(np.median(vals))
            rsd = 1.4826 * float(np.median(np.abs(vals - med)))
            hot = comp & (smooth[sl] > organ_factor * (med + 2.0 * rsd))
            pieces, n = cc3d.connected_components(hot, connectivity=26, return_N=True)
            for p in range(1, n + 1):
                piece = pieces == p
                if piece.sum() * vox_ml < options.min_volume_ml:
                    continue
                out[sl][piece] = next_lab
                next_lab += 1
        # A lesion touching the bladder (a pelvic node, a bowel loop on the dome) joins the
        # urine's component. The bladder component is split by the same marker watershed as
        # touching lesions; a piece other than the urine pool (the piece holding the maximum)
        # is kept when its maximum is below the urine's median (a cooler structure with its
        # own peak) or above organ_factor x (median + 2 robust SD) (clearly hotter than
        # urine); pieces at urine level are noise peaks of the pool. Not for FDG (as above).
        bladders = [c for c in comps if found.get(c.label) == "urinary bladder (auto)"]
        for b in bladders if agent_class != "fdg" else []:
            sl = ndimage.find_objects((labels == b.label).astype(np.uint8))[0]
            comp = labels[sl] == b.label
            vals = smooth[sl][comp]
            med = float(np.median(vals))
            rsd = 1.4826 * float(np.median(np.abs(vals - med)))
            parts = split_touching(
                smooth[sl], comp.astype(np.int32), spacing, min_height_suv=split_h
            )
            n = int(parts.max())
            if n < 2:
                continue
            pmax = label_max(smooth[sl], parts, n)
            urine = int(np.argmax(pmax[1:])) + 1
            for p in range(1, n + 1):
                piece = parts == p
                if p == urine or piece.sum() * vox_ml < options.min_volume_ml:
                    continue
                if med <= pmax[p] <= organ_factor * (med + 2.0 * rsd):
                    continue
                out[sl][piece] = next_lab
                next_lab += 1
        if next_lab > int(labels.max()) + 1:
            new = np.where(out > int(labels.max()), out, 0).astype(np.int32)
            comps2 = component_table(smooth, new, affine, body_idx)
            comps2 = [c for c in comps2 if c.label > int(labels.max())]
            found2 = _keep_liver_lesions(
                classify_physiological(
                    comps2, detectors - {"kidney", "bladder"}, kidneys=kidneys, **kw
                ),
                new,
            )
            for lab, organ in found2.items():
                out[out == lab] = 0
                auto_found.append(organ)
        return out

    contrast = options.contrast_fraction
    if contrast is None:
        contrast = defaults.get("contrast_fraction")
    base = threshold if threshold_map is None else threshold_map
    labels = segment_lesions(
        smooth,
        spacing,
        base if noise_floor is None else np.maximum(base, noise_floor),
        detect_suv=detect_suv,
        region_detect=region_detect,
        region_thresholds=region_thresholds,
        raise_thresholds=organ_regions,
        min_volume_ml=options.min_volume_ml,
        suvmax_fraction=(
            options.suvmax_fraction
            if options.suvmax_fraction is not None
            else float(t["suvmax_fraction"])
        )
        if method == "suvmax_percent"
        else None,
        split=(
            options.split_lesions
            if options.split_lesions is not None
            else bool(defaults.get("split_lesions", True))
        ),
        split_min_height_suv=options.split_min_height_suv,
        split_min_height_fraction=options.split_min_height_fraction,
        # the detection image is already smoothed: half a voxel more, not one (one on top
        # of the 4 mm filter filled the saddle between a 25 mm moderate lesion and a SUV-40
        # neighbour 33 mm away, seed 415: peak 6.4 over a 5.7 saddle instead of 7.7 over 5.7)
        split_smooth_sigma_voxels=0.5 if options.detect_smooth_fwhm_mm > 0 else 1.0,
        fill_holes=options.fill_holes,
        contrast_fraction=contrast if contrast and contrast > 0 else None,
        detect_on_peak=options.detect_on_peak,
        component_filter=drop_physiological,
    )
    suppressed = suppressed + sorted(set(auto_found))
    site_masks = dict(ref.masks)
    if "liver" in site_masks and ref.liver is not None and ref.liver.origin == "automatic":
        site_masks["liver"] = _liver_envelope(site_masks["liver"], spacing)
    lesions = measure_lesions(
        arr,
        labels,
        spacing,
        affine,
        ref,
        ct_hu=ct_grid,
        site_masks=site_masks,
        psf_fwhm_mm=options.psf_fwhm_mm,
        smooth_fwhm_mm=max(options.detect_smooth_fwhm_mm, 0.0),
    )
    if liver_threshold_suv is not None:
        warnings.append(
            f"thresholds (smoothed SUV): {liver_threshold_suv:.2f} inside the liver, "
            f"{threshold:.2f} elsewhere"
            + (
                ""
                if local_bg_range is None
                else f" ({local_bg_range[0]:.2f}-{local_bg_range[1]:.2f} from the local background)"
            )
        )
    return VolumeAnalysis(
        suv=suv,
        agent_class=agent_class,
        reference=ref,
        labels=labels,
        lesions=lesions,
        threshold_suv=threshold,
        method=method,
        suppressed=suppressed,
        warnings=warnings,
        ct_on_grid=ct_grid,
    )


def _study_summary(
    study: Any, agent: str, agent_class: str, suv: hd.Volume, kind: str
) -> dict[str, Any]:
    p = getattr(study, "patient", None)
    act = getattr(study, "injected_activity_bq", None)
    return {
        "agent": agent,
        "agent_class": agent_class,
        "modality": getattr(study, "modality", None),
        "units": getattr(study, "units", None),
        "suv_kind": kind,
        "study_instance_uid": getattr(study, "study_instance_uid", None),
        "series_instance_uid": getattr(study, "series_instance_uid", None),
        "ct_series_instance_uid": getattr(study, "ct_series_instance_uid", None),
        "frame_of_reference_uid": suv.frame_of_reference_uid,
        "injected_activity_mbq": None if act is None else round(act / 1e6, 2),
        "scan_start_datetime": getattr(study, "scan_start_datetime", None),
        "patient_sex": getattr(p, "sex", None),
        "patient_weight_kg": getattr(p, "weight_kg", None),
        "patient_height_m": getattr(p, "height_m", None),
        "grid_shape": list(suv.spatial_shape),
        "spacing_mm": [round(s, 4) for s in spacing_from_affine(suv.affine)],
        "has_ct": getattr(study, "ct", None) is not None,
    }


def analyze(
    study: Any,
    *,
    fdg: Any | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    organ_masks: OrganMasks | None = None,
    fdg_organ_masks: OrganMasks | None = None,
) -> Findings:
    """Whole-body NEN analysis of one study (optionally with the same patient's FDG study).

    Args:
        study: a :class:`nenscope.imaging.Study` (SSTR, FDG or GLP-1R agent).
        fdg: the same patient's FDG :class:`~nenscope.imaging.Study` for NETPET, or ``None``.
        options: :class:`AnalysisOptions`.
        organ_masks: organ masks (name -> ``highdicom.Volume`` or array on the emission grid)
            that replace the automatic references and drive physiological suppression.
        fdg_organ_masks: the same for the FDG study.

    Returns:
        :class:`Findings` with references, lesions (metrics, Krenning, SSTR-RADS,
        FDG SUVmax), FDG-only lesions and the summary (PRRT eligibility, NETPET).
    """
    agent = options.tracer or getattr(study, "agent", None)
    cls = agent_class_of(agent)
    suv = study.suv(options.suv_kind)
    if options.psf_fwhm_mm is None:
        options = replace(
            options, psf_fwhm_mm=effective_fwhm_mm(getattr(study, "radionuclide", None))
        )
    va = analyze_volume(
        suv,
        agent_class=cls,
        ct=getattr(study, "ct", None),
        organ_masks=organ_masks,
        options=options,
    )
    ref = va.reference
    liver = ref.liver.suv_mean if ref.liver else None
    spleen = ref.spleen.suv_mean if ref.spleen else None
    warnings = list(va.warnings) + list(getattr(study, "warnings", []) or [])
    has_ct = va.ct_on_grid is not None
    kidney = None
    if cls == "sstr" and spleen is None:
        # Krenning 4 compares with the kidneys when there is no spleen (splenectomy)
        kid = [m for k, m in ref.masks.items() if k.lower().startswith("kidney")]
        if kid:
            union = np.logical_or.reduce(kid)
            if union.any():
                kidney = float(np.median(np.asarray(suv.array)[union]))
                warnings.append(
                    f"no spleen reference: Krenning 4 against the kidneys ({kidney:.2f})"
                )
    for les in va.lesions:
        if cls == "sstr":
            metric = score_rules()["krenning"]["metric"]
            value = getattr(les, metric)
            if value is None:
                value = les.suv_max
            les.krenning = krenning_score(value, liver, spleen, kidney_suv_mean=kidney)
            les.sstr_rads = sstr_rads(
                les.krenning, les.site, ct_correlate=les.ct_correlate if has_ct else None
            )

    fdg_only: list[FdgOnlyLesion] = []
    fdg_ref = None
    netpet = None
    if fdg is not None:
        if cls != "sstr":
            raise NenscopeError("--fdg needs an SSTR study as the main study (NETPET)")
        fdg_only, fdg_ref, fdg_warn, fdg_peak_sd, fdg_graded = _add_fdg(
            va, fdg, options, fdg_organ_masks
        )
        warnings.extend(fdg_warn)
        fdg_liver = fdg_ref.liver.suv_mean if fdg_ref.liver else None
        grades = []
        for les in va.lesions:
            # NETPET compares partial-volume-corrected uptakes (the same sphere model as the
            # Krenning score, on each study): a voxel maximum of a noisy FDG image would call
            # every lesion FDG-positive, and blur affects the two tracers' contrasts unequally
            sstr_val = les.suv_pvc if les.suv_pvc is not None else les.suv_peak
            fdg_val = les.fdg_suv_pvc if les.fdg_suv_pvc is not None else les.fdg_suv_peak
            # FDG-positive must be significant: the correction divides the SUVpeak contrast
            # by the lesion's recovery (0.2-1), and its noise with it, so the positivity
            # threshold is raised by k SD of the SUVpeak noise (measured in the FDG liver)
            # divided by that recovery: noise is not turned into FDG avidity
            rc = les.fdg_recovery if les.fdg_suv_pvc is not None else 1.0
            sstr_ratio = sstr_val / liver if liver else None
            les.netpet = netpet_lesion(
                les.krenning,
                sstr_ratio,
                fdg_val,
                fdg_liver,
                fdg_liver_suv_sd=fdg_peak_sd / (rc or 1.0),
            )
            grades.append(les.netpet)
        netpet = netpet_grade(grades + fdg_graded, n_fdg_only=len(fdg_only))
        if netpet is None and fdg_liver is not None:
            netpet = "P0"

    krennings = [les.krenning for les in va.lesions]
    if cls == "sstr":
        eligible, reason = prrt_eligibility(
            krennings, [les.volume_ml for les in va.lesions], fdg_only_lesions=len(fdg_only)
        )
        kmax = max((k for k in krennings if k is not None), default=None)
    else:
        eligible, reason, kmax = None, None, None
    summary = Summary(
        n_lesions=len(va.lesions),
        sstr_tv_ml=float(sum(les.volume_ml for les in va.lesions)),
        tl_sstr=float(sum(les.tla for les in va.lesions)),
        krenning_max=kmax,
        prrt_eligible=eligible,
        prrt_reason=reason,
        netpet=netpet,
        n_fdg_only=len(fdg_only) if fdg is not None else None,
        threshold_suv=va.threshold_suv,
        threshold_method=va.method,
        suppressed=va.suppressed,
    )
    label_vol = suv.with_array(va.labels)
    return Findings(
        study=_study_summary(study, str(agent), cls, suv, options.suv_kind),
        reference=ref,
        lesions=va.lesions,
        summary=summary,
        labels=label_vol,
        fdg_only_lesions=fdg_only,
        fdg_reference=fdg_ref,
        warnings=warnings,
    )


def _add_fdg(
    va: VolumeAnalysis, fdg: Any, options: AnalysisOptions, fdg_organ_masks: OrganMasks | None
) -> tuple[list[FdgOnlyLesion], ReferenceRegions, list[str], float, list[str]]:
    """FDG SUVmax per SSTR lesion and the FDG-only lesions (FDG analysed in FDG mode).

    Also returns the SD of the SUVpeak (1 cm^3 sphere mean) over the FDG liver: robust SD
    (1.4826 x MAD) of the SUVpeak map in the liver mask eroded by 2 voxels (0 without one),
    and the NETPET grades of FDG lesions without an SSTR lesion but with SSTR uptake.
    """
    fdg_suv = fdg.suv(options.suv_kind)
    fdg_opts = AnalysisOptions(
        tracer="18F-FDG",
        suv_kind=options.suv_kind,
        min_volume_ml=options.min_volume_ml,
        split_lesions=options.split_lesions,
        fill_holes=options.fill_holes,
        detect_smooth_fwhm_mm=options.detect_smooth_fwhm_mm,
        psf_fwhm_mm=effective_fwhm_mm(getattr(fdg, "radionuclide", None) or "F-18"),
    )
    fva = analyze_volume(
        fdg_suv,
        agent_class="fdg",
        ct=getattr(fdg, "ct", None),
        organ_masks=fdg_organ_masks,
        options=fdg_opts,
    )
    warnings = [f"FDG: {w}" for w in fva.warnings]
    align = align_to(
        va.suv,
        fdg_suv,
        fixed_ct=None if va.ct_on_grid is None else va.suv.with_array(va.ct_on_grid),
        moving_ct=getattr(fdg, "ct", None),
    )
    if align.transform is not None:
        warnings.append(f"FDG study aligned by {align.method}")
    fdg_on = align.resample(fdg_suv, va.suv, order=1)
    fdg_lab_on = align.resample(fdg_suv.with_array(fva.labels), va.suv, order=0).astype(np.int32)
    spacing = spacing_from_affine(va.suv.affine)
    # FDG SUVmax in each SSTR lesion (dilated by one voxel after a registration, for the
    # residual misalignment)
    for les, sl in zip(va.lesions, ndimage.find_objects(va.labels), strict=False):
        if sl is None:
            continue
        box = tuple(
            slice(max(0, s.start - 2), min(d, s.stop + 2))
            for s, d in zip(sl, va.labels.shape, strict=True)
        )
        m = va.labels[box] == les.label
        if align.transform is not None:
            m = ndimage.binary_dilation(m, iterations=1)
        les.fdg_suv_max = float(fdg_on[box][m].max())
    peaks, _ = suv_peak_per_label(fdg_on, va.labels, spacing)
    reach = [int(np.ceil(2.0 * options.psf_fwhm_mm / sp)) + 1 for sp in spacing]
    objs = ndimage.find_objects(va.labels)
    for les in va.lesions:
        les.fdg_suv_peak = float(peaks[les.label - 1])
        sl = objs[les.label - 1]
        if sl is not None:
            # same lesion, same size, same scanner blur: the SSTR study's recovery of the
            # SUVpeak contrast (peak - background) / (corrected - background) applies to FDG
            bg_f, _ = lesion_pvc(
                fdg_on,
                va.labels,
                les.label,
                sl,
                va.suv.affine,
                reach,
                options.psf_fwhm_mm,
                background_only=True,
            )
            bg_s = les.background_suv
            if bg_f is not None and bg_s is not None and les.suv_pvc is not None:
                denom = les.suv_pvc - bg_s
                rc = (les.suv_peak - bg_s) / denom if denom > 0 else 1.0
                rc = float(np.clip(rc, 0.2, 1.0))
                les.fdg_suv_pvc = bg_f + (les.fdg_suv_peak - bg_f) / rc
                les.fdg_recovery = rc
    # FDG lesions without an SSTR lesion within match distance
    iters = max(1, int(round(options.match_distance_mm / min(spacing))))
    sstr_near = ndimage.binary_dilation(va.labels > 0, iterations=iters)
    fdg_only: list[FdgOnlyLesion] = []
    fl_lesions = {fl.label: fl for fl in fva.lesions}
    fdg_liver_mean = fva.reference.liver.suv_mean if fva.reference.liver else None
    fdg_only_ratio = float(score_rules()["netpet"]["fdg_only_min_liver_ratio"])
    sstr_arr = np.asarray(va.suv.array, dtype=np.float32)
    sstr_liver = va.reference.liver.suv_mean if va.reference.liver else None
    sstr_spleen = va.reference.spleen.suv_mean if va.reference.spleen else None
    sstr_pos_min = int(score_rules()["netpet"]["sstr_positive_min_krenning"])
    graded: list[str] = []
    for lab in range(1, int(fdg_lab_on.max()) + 1):
        m = fdg_lab_on == lab
        if not m.any() or (m & sstr_near).any() or lab not in fl_lesions:
            continue
        fl = fl_lesions[lab]
        com = np.array(ndimage.center_of_mass(m))
        centre = tuple(float(c) for c in indices_to_lps(va.suv.affine, com)[0])
        # No SSTR lesion there is not the same as no SSTR expression (NETPET P5): a lesion
        # with uptake about the liver's is invisible on SSTR PET inside the liver and at the
        # detection limit elsewhere. The SSTR uptake in the FDG lesion's core (its voxels
        # at >= 70 % of its FDG maximum: the FDG extent is blurred into the surroundings,
        # e.g. the liver) is scored on the Krenning scale; if SSTR-positive, the lesion is
        # graded P2-P4 like a matched one (FDG partial-volume-corrected uptake from the FDG
        # study) instead of counting as FDG-only.
        fvals = fdg_on[m]
        core = m & (fdg_on >= 0.7 * float(fvals.max()))
        sstr_mean = float(sstr_arr[core].mean())
        k = (
            krenning_score(sstr_mean, sstr_liver, sstr_spleen)
            if sstr_liver is not None and va.agent_class == "sstr"
            else None
        )
        if k is not None and k >= sstr_pos_min and fdg_liver_mean is not None:
            # the sphere-model correction of a uniform lesion cannot fall below the measured
            # SUVpeak; when it does, the fit followed the FDG delineation's noise (liver mean
            # + 1 SD inside the liver) and the SUVpeak is the better estimate
            fdg_val = max(fl.suv_pvc or 0.0, fl.suv_peak)
            grade = netpet_lesion(k, sstr_mean / sstr_liver, fdg_val, fdg_liver_mean)
            if grade is not None:
                graded.append(grade)
                warnings.append(
                    f"FDG lesion at {[round(c, 1) for c in centre]} mm has no SSTR lesion but "
                    f"SSTR uptake {sstr_mean:.2f} (Krenning {k}): NETPET {grade}, not FDG-only"
                )
                continue
        if fdg_liver_mean is not None and fl.suv_peak < fdg_only_ratio * fdg_liver_mean:
            continue  # not clearly FDG-avid: physiological bowel, muscle or marrow uptake
        fdg_only.append(
            FdgOnlyLesion(
                id=len(fdg_only) + 1,
                center_mm=centre,  # type: ignore[arg-type]
                volume_ml=fl.volume_ml,
                fdg_suv_max=fl.suv_max,
                fdg_suv_mean=fl.suv_mean,
            )
        )
    peak_sd = 0.0
    fl_mask = fva.reference.masks.get("liver")
    if fl_mask is not None and fl_mask.any():
        sl = ndimage.find_objects(fl_mask.astype(np.uint8))[0]
        core = ndimage.binary_erosion(fl_mask[sl], iterations=2)
        if core.sum() > 100:
            pmap = suv_peak_map(
                np.asarray(fdg_suv.array, dtype=np.float32)[sl], spacing_from_affine(fdg_suv.affine)
            )
            v = pmap[core]
            peak_sd = float(1.4826 * np.median(np.abs(v - np.median(v))))
    return fdg_only, fva.reference, warnings, peak_sd, graded
