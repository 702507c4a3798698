"""The threshold plan of one emission volume: which SUV level delineates and detects where.

All levels are on the smoothed SUV on which lesions are detected (``volume.detection_image``)
and derive from the liver measured on it (:func:`liver_statistics`):

- the delineation threshold of the method (``"liver"``: factor x (mean + k SD), qPSMA form,
  Gafita A et al., J Nucl Med 2019;60:1277-1283; ``"percist"``: 1.5 x mean + 2 SD, Wahl RL
  et al., J Nucl Med 2009;50:122S; ``"fixed"``), and the detection threshold (hysteresis);
- with ``"liver"`` and an extrahepatic fraction: the liver-relative value inside the liver,
  a fraction of the liver mean outside it (without bowel/pancreas masks: organ factor x the
  local background, clipped), blended over the liver's blurred edge;
- FDG: inside the liver, detection at liver mean + k SD (``liver_detect_k_sd``);
- a per-slice noise floor (median + k robust SD of the smoothed SUV's fine structure).

The constants and agent defaults are in ``data/scores.toml`` (``[thresholds]``), reached
through :class:`~nenscope.analysis.options.ResolvedOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import padded_box
from nenscope.analysis.options import ResolvedOptions
from nenscope.analysis.reference import ReferenceRegions, _block_mean, voi_stats
from nenscope.analysis.resolution import edge_fwhm_mm
from nenscope.analysis.rules import UptakeRule, physiological_rules, score_rules
from nenscope.analysis.segmentation import Regions, liver_threshold, physiological_mask
from nenscope.imaging.geometry import MAD_TO_SD, fwhm_to_sigma, robust_sd

__all__ = ["ThresholdPlan", "liver_statistics", "plan_thresholds"]

# local background for the extrahepatic threshold without bowel/pancreas masks: block size
# (mm) and median window (blocks), i.e. ~4 cm, the scale between lesions and abdominal organs
_BG_BLOCK_MM = 8.0
_BG_WINDOW_BLOCKS = 5
# upper quartile rather than the median: a thin organ (the pancreas is 2-3 cm thick) fills
# less than half of the window, a lesion of 1.5 cm only ~5 % of it
_BG_PERCENTILE = 75
# the fine structure whose noise sets the per-slice floor: SUV minus a 20 mm Gaussian mean
_NOISE_MEAN_FWHM_MM = 20.0
# windows ranked at a time by _window_percentiles (8 MB of float32 5x5x5 windows)
_RANK_CHUNK = 16384


@dataclass(eq=False)
class ThresholdPlan:
    """Delineation and detection levels (smoothed SUV) of one volume.

    Attributes:
        method: delineation method used (``"fixed"`` when there is no liver reference).
        detect_method: detection method used (``"none"``: the delineation threshold).
        liver_mean_suv: liver mean in its reference VOI on the smoothed SUV (0 without one).
        liver_sd_suv: robust SD over the liver mask on the smoothed SUV (0 without one).
        threshold_suv: delineation threshold; outside the liver when the liver has its own.
        detect_suv: detection threshold (hysteresis), or ``None``.
        liver_threshold_suv: the liver-relative threshold inside the liver when the
            extrahepatic one differs, else ``None``.
        threshold_map: threshold per voxel outside the liver (local background, liver edge),
            or ``None`` (``threshold_suv`` everywhere).
        local_background_suv: clip range (SUV) of the local-background threshold, or ``None``.
        organ_level_map: organ factor x the local background, clipped to [its lower clip,
            (1 - Krenning band) x liver mean]: the level a focus below the liver must reach
            (:class:`~nenscope.analysis.lowuptake.LowUptakeFilter`); ``None`` without the
            local background.
        noise_floor: per-slice noise floor (broadcastable along the z axis), or ``None``.
        region_thresholds: ``(mask, SUV)`` delineation thresholds replacing the global one.
        region_detect: ``(mask, SUV)`` detection levels replacing ``detect_suv``.
        blur_fwhm_mm: the detection image's blur measured at the liver edge (mm), or
            ``None``.
        warnings: notes for the findings.
    """

    method: str
    detect_method: str
    liver_mean_suv: float
    liver_sd_suv: float
    threshold_suv: float
    detect_suv: float | None
    liver_threshold_suv: float | None = None
    threshold_map: NDArray[np.float32] | None = None
    local_background_suv: tuple[float, float] | None = None
    organ_level_map: NDArray[np.float32] | None = None
    noise_floor: NDArray[np.float32] | None = None
    region_thresholds: Regions = field(default_factory=list)
    region_detect: Regions = field(default_factory=list)
    blur_fwhm_mm: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def base(self) -> float | NDArray[np.float32]:
        """The threshold outside the regions: ``threshold_map`` or ``threshold_suv``."""
        return self.threshold_suv if self.threshold_map is None else self.threshold_map

    @property
    def delineation(self) -> float | NDArray[np.float32]:
        """``base`` raised to the per-slice noise floor (what ``segment_lesions`` gets)."""
        return self.base if self.noise_floor is None else np.maximum(self.base, self.noise_floor)


def liver_statistics(
    smooth: NDArray, ref: ReferenceRegions, spacing: tuple[float, float, float]
) -> tuple[float, float]:
    """Liver mean and SD on the smoothed SUV (0, 0 without a liver reference).

    The mean is taken in the reference VOI; the SD robustly (:func:`~nenscope.imaging.
    geometry.robust_sd`) over the liver mask eroded by 2 voxels (the whole mask when that
    leaves <= 100 voxels), which samples the correlated noise of the smoothed image far
    better than one 3 cm sphere.
    """
    liver = ref.liver
    if liver is None:
        return 0.0, 0.0
    mean, sd, _ = voi_stats(
        smooth,
        ref.masks.get("liver", np.ones(smooth.shape, bool)),
        np.asarray(liver.voi_center_ijk),
        float(liver.voi_radius_mm),
        spacing,
    )
    if "liver" in ref.masks:
        core = ndimage.binary_erosion(ref.masks["liver"], iterations=2)
        sd = robust_sd(smooth[core] if core.sum() > 100 else smooth[ref.masks["liver"]])
    return mean, sd


def _level(name: str, mean: float, sd: float, opts: ResolvedOptions) -> float:
    """The threshold of one method name from the liver statistics."""
    if name == "fixed":
        return float(opts.fixed_suv)
    if name == "percist":
        return float(opts.percist_factor) * mean + float(opts.percist_k_sd) * sd
    return liver_threshold(mean, sd, factor=opts.liver_factor, k_sd=opts.liver_k_sd)


def _bowel_and_pancreas_masked(agent_class: str, masks: dict[str, NDArray[np.bool_]]) -> bool:
    """True when organ masks cover the agent's bowel and pancreas rules."""
    covered = [r for r in physiological_rules(agent_class) if r.organ in ("bowel", "pancreas")]
    return bool(covered) and all(any(r.matches(k) for k in masks) for r in covered)


def plan_thresholds(
    arr: NDArray,
    smooth: NDArray,
    body: NDArray[np.bool_],
    ref: ReferenceRegions,
    masks: dict[str, NDArray[np.bool_]],
    spacing: tuple[float, float, float],
    z_ax: int,
    opts: ResolvedOptions,
) -> ThresholdPlan:
    """The threshold plan of one volume.

    Args:
        arr: SUV array; smooth: its smoothed copy (detection image).
        body: body mask; ref: reference regions (liver, its mask).
        masks: the user's organ masks on the grid (bowel/pancreas masks lower the
            extrahepatic threshold).
        spacing: voxel spacing (mm); z_ax: the array axis along patient z.
        opts: resolved options.
    """
    method, detect = opts.threshold_method, opts.detect_method
    warnings: list[str] = []
    if ref.liver is None and (method != "fixed" or detect not in ("none", "fixed")):
        warnings.append(
            f"no liver reference: fixed threshold SUV {opts.fixed_suv} used instead of "
            f"{method!r} (give a liver mask with --organ-masks)"
        )
        method, detect = "fixed", "none"
    mean, sd = liver_statistics(smooth, ref, spacing)
    detect_suv = None if detect == "none" else _level(detect, mean, sd, opts)
    plan = ThresholdPlan(
        method, detect, mean, sd, _level(method, mean, sd, opts), detect_suv, warnings=warnings
    )
    if detect_suv is not None and opts.liver_detect_k_sd is not None and "liver" in ref.masks:
        # inside the homogeneous liver a focus is found when it stands out from the liver's
        # noise (liver mean + k SD of the smoothed liver), not only at PERCIST's
        # measurability level (1.5 x mean + 2 SD): FDG-avid metastases of 1.5-2 cm with
        # twice the liver uptake stay below the latter (scores.toml, docs/analysis.md)
        d_liver = mean + float(opts.liver_detect_k_sd) * sd
        plan.region_detect.append((ref.masks["liver"], min(detect_suv, d_liver)))
    if method == "liver" and ref.liver is not None and "liver" in ref.masks:
        _split_at_the_liver(plan, smooth, ref.masks["liver"], masks, spacing, opts)
    if opts.noise_k > 0 and body.any():
        # per transaxial slice: median + k x robust SD of the smoothed SUV's fine structure
        # in the body. OSEM noise is highest in the slices of hot organs (liver, kidneys,
        # bladder), so a lesion there must stand out from that slice's noise.
        plan.noise_floor = _slice_noise_floor(arr, smooth, body, spacing, z_ax, opts.noise_k)
    return plan


def _split_at_the_liver(
    plan: ThresholdPlan,
    smooth: NDArray,
    liver_mask: NDArray[np.bool_],
    masks: dict[str, NDArray[np.bool_]],
    spacing: tuple[float, float, float],
    opts: ResolvedOptions,
) -> None:
    """Liver-relative threshold inside the liver, a fraction of the liver mean outside.

    Outside the liver: ``extrahepatic_liver_fraction`` x the liver mean (the masked-mode
    fraction when bowel and pancreas masks raise the thresholds over those organs; without
    them, the local background); over the liver's blurred edge (``liver_margin_mm``) a blend
    of the two weighted by the liver's share of the resolution kernel.
    """
    extra = opts.extrahepatic_liver_fraction
    masked = opts.extrahepatic_liver_fraction_masked
    covered = _bowel_and_pancreas_masked(opts.agent_class, masks)
    if extra is not None and covered and masked is not None:
        # bowel and pancreas are masked (raised thresholds there): the threshold elsewhere
        # can go below their physiological uptake
        extra = masked
    if extra is None:
        return
    margin_mask, _ = physiological_mask(
        smooth.shape,
        {"liver": liver_mask},
        [UptakeRule("any", "liver", ("liver",), float(opts.liver_margin_mm), "", "")],
        spacing,
    )
    plan.liver_threshold_suv = plan.threshold_suv
    plan.region_thresholds.append((liver_mask, plan.threshold_suv))
    plan.threshold_suv = float(extra) * plan.liver_mean_suv
    if masked is not None and float(masked) < float(extra) and not covered:
        lo, hi = float(masked) * plan.liver_mean_suv, plan.threshold_suv
        plan.local_background_suv = (lo, hi)
        k = score_rules()["krenning"]
        plan.threshold_map, plan.organ_level_map = _local_background_threshold(
            smooth,
            spacing,
            (lo, hi),
            float(opts.organ_factor),
            sub_liver=(1.0 - float(k["about_liver_band"])) * plan.liver_mean_suv,
            cold_floor=float(k["none_below_liver_fraction"]) * plan.liver_mean_suv,
            cold_contrast=float(score_rules()["thresholds"]["cold_contrast"]),
        )
    # the spill-out of the liver on the detection image, measured on the liver's own edge (so
    # detection does not depend on a scanner profile: --scanner changes only suv_pvc)
    blur = edge_fwhm_mm(smooth, liver_mask, plan.liver_mean_suv, spacing) or float(
        opts.liver_margin_mm
    )
    plan.blur_fwhm_mm = blur
    plan.warnings.append(f"blur at the liver edge (detection image): {blur:.1f} mm FWHM")
    plan.threshold_map = _liver_edge_threshold(
        liver_mask, margin_mask, plan.base, plan.liver_threshold_suv, spacing, blur
    )
    note = (
        f"thresholds (smoothed SUV): {plan.liver_threshold_suv:.2f} inside the liver, "
        f"{plan.threshold_suv:.2f} elsewhere"
    )
    if plan.local_background_suv is not None:
        lo, hi = plan.local_background_suv
        note += f" ({lo:.2f}-{hi:.2f} from the local background)"
    plan.warnings.append(note)


def _local_background_threshold(
    smooth: NDArray,
    spacing: tuple[float, float, float],
    clip: tuple[float, float],
    organ_factor: float,
    *,
    sub_liver: float,
    cold_floor: float,
    cold_contrast: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Extrahepatic threshold from the local background, without bowel/pancreas masks.

    Physiological bowel, stomach and pancreas uptake are organ-sized (several cm), lesions of
    interest smaller: the upper quartile of the smoothed SUV over a ~4 cm neighbourhood (on
    the ~8 mm block grid of the reference search) is the local background, and the threshold
    is ``organ_factor`` x that, clipped to ``clip`` = (lo, hi) (the masked-mode value and the
    unmasked one). Over a hot organ the threshold stays at the unmasked level.

    In cold tissue (fat, lung, muscle, marrow) the lower clip itself drops, to
    ``cold_contrast`` x the local median but not below ``cold_floor`` (the Krenning "none"
    level): a lesion with uptake well below the liver's (Krenning 1) stands out there and
    is found, subject to :class:`~nenscope.analysis.lowuptake.LowUptakeFilter` (a CT correlate).

    Also returns the organ level for foci below the liver: the same value clipped to
    ``[lower clip, sub_liver]``.
    """
    lo, hi = clip
    fb = tuple(max(1, int(round(_BG_BLOCK_MM / sp))) for sp in spacing)
    blocks = _block_mean(smooth, fb)  # type: ignore[arg-type]
    tops = (hi, max(hi, sub_liver))

    def levels(median: NDArray, upper: NDArray) -> list[NDArray[np.float32]]:
        low = np.clip(cold_contrast * median, min(cold_floor, lo), lo)
        return [np.clip(np.maximum(organ_factor * upper, low), low, top) for top in tops]

    # the levels rise with the window's percentiles, which lie between the smallest block
    # and the window's maximum: where the maximum gives the lowest levels (air, cold tissue),
    # so do the percentiles, and they need not be ranked there
    window_max = ndimage.maximum_filter(blocks, size=_BG_WINDOW_BLOCKS, mode="nearest")
    floor = levels(np.full((1, 1, 1), blocks.min()), np.full((1, 1, 1), blocks.min()))
    settled = np.logical_and.reduce(
        [a == b for a, b in zip(levels(window_max, window_max), floor, strict=True)]
    )
    median, upper = _window_percentiles(
        blocks, _BG_WINDOW_BLOCKS, (50, _BG_PERCENTILE), where=~settled, fill=window_max
    )
    out = []
    for bg_thr in levels(median, upper):
        for ax, k in enumerate(fb):
            if k > 1:
                bg_thr = np.repeat(bg_thr, k, axis=ax)
        out.append(bg_thr[: smooth.shape[0], : smooth.shape[1], : smooth.shape[2]])
    return out[0], out[1]


def _window_percentiles(
    values: NDArray[np.float32],
    size: int,
    percentiles: tuple[float, ...],
    *,
    where: NDArray[np.bool_],
    fill: NDArray[np.float32],
) -> list[NDArray[np.float32]]:
    """Percentiles of ``values`` over the ``size``-cube around each voxel where ``where``
    holds, ``fill`` elsewhere.

    The values are those of ``scipy.ndimage.percentile_filter(values, p, size=size,
    mode="nearest")`` (the same rank, ``int(size**3 x p / 100)``, of the same window), all
    percentiles from one ``numpy.partition`` of each window and only where asked.
    """
    if size % 2 != 1:
        raise ValueError(f"the window must have an odd size, not {size}")
    n = size**3
    ranks = [min(int(float(n) * p / 100.0), n - 1) for p in percentiles]
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(values, size // 2, mode="edge"), (size,) * values.ndim
    )
    out = [np.array(fill, dtype=values.dtype) for _ in percentiles]
    idx = np.nonzero(where)
    for start in range(0, idx[0].size, _RANK_CHUNK):
        at = tuple(i[start : start + _RANK_CHUNK] for i in idx)
        ranked = np.partition(windows[at].reshape(-1, n), ranks, axis=1)
        for o, r in zip(out, ranks, strict=True):
            o[at] = ranked[:, r]
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
    box = padded_box(margin_mask, [int(np.ceil(fwhm_mm / s)) for s in spacing])
    if box is None:
        return out
    share = ndimage.gaussian_filter(
        liver_mask[box].astype(np.float32), fwhm_to_sigma(fwhm_mm, spacing)
    )
    rim = margin_mask[box] & ~liver_mask[box]
    blend = share * np.float32(inside_suv) + (1.0 - share) * out[box]
    out[box] = np.where(rim, np.maximum(out[box], blend), out[box])
    return out


def _slice_noise_floor(
    arr: NDArray,
    smooth: NDArray,
    body: NDArray[np.bool_],
    spacing: tuple[float, float, float],
    z_ax: int,
    k: float,
) -> NDArray[np.float32]:
    """Per-slice noise floor (broadcastable along ``z_ax``) of the smoothed SUV.

    The fine structure is ``smooth - G20(SUV)`` (a 20 mm Gaussian as the local mean); its
    robust SD (``MAD_TO_SD`` x MAD) over the body voxels of each slice times ``k``, plus the
    slice's median smoothed SUV.
    """
    resid = smooth - ndimage.gaussian_filter(arr, fwhm_to_sigma(_NOISE_MEAN_FWHM_MM, spacing))
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
        floor[i] = float(np.median(smooth[tuple(sl)][b])) + k * MAD_TO_SD * mad
    shape = [1, 1, 1]
    shape[z_ax] = n
    return floor.reshape(shape)
