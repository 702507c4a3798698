"""One emission volume: references -> threshold plan -> segment -> veto -> measure.

:func:`analyze_volume` is the per-volume half of :func:`~nenscope.analysis.analyze` (used
twice with an FDG study). Its stages and their passes over the emission grid (a "pass"
reads or writes the whole volume):

1. grid: SUV (1), CT resampled to the emission grid (1), organ masks, body mask (~3); then
   everything runs on the body's box (:func:`~nenscope.analysis._crop.body_box`: 26 % of the
   clinical fixture's PET grid; the whole grid's results), labels and masks pasted back;
2. references (:mod:`~nenscope.analysis.reference`): on a coarse grid (block mean 1, then
   coarse-grid work only);
3. detection image (:func:`detection_image`, 1-2) and threshold plan
   (:mod:`~nenscope.analysis.thresholds`);
4. segmentation (:mod:`~nenscope.analysis.segmentation`): threshold and exclusion (1-2),
   connected components (1), size filter (2), ordering (1), with the physiological-uptake
   veto (:class:`~nenscope.analysis.organs.PhysiologicalVeto`) as its component filter;
5. measurement (:mod:`~nenscope.analysis.metrics`): crops around lesions only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._crop import CROP_MARGIN_MM, BodyBox, body_box
from nenscope.analysis._geometry import (
    padded_box,
    patient_axes,
    resample_array,
    spacing_from_affine,
)
from nenscope.analysis.bloodpool import find_aorta_blood_pool
from nenscope.analysis.lowuptake import DEFAULT_SHOULDER_MM, LowUptakeFilter
from nenscope.analysis.metrics import Lesion, measure_lesions
from nenscope.analysis.options import AnalysisOptions, ResolvedOptions, resolve
from nenscope.analysis.organs import OrganAnchors, PhysiologicalVeto, liver_envelope, organ_anchors
from nenscope.analysis.physiology import component_table
from nenscope.analysis.reference import ReferenceRegions, body_mask, find_reference_regions
from nenscope.analysis.rules import physiological_rules, score_rules
from nenscope.analysis.segmentation import organ_thresholds, segment_lesions, split_height
from nenscope.analysis.sites import SiteContext, site_of_mask
from nenscope.analysis.thresholds import ThresholdPlan, plan_thresholds
from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import fwhm_to_sigma

__all__ = ["OrganMasks", "VolumeAnalysis", "analyze_volume", "detection_image"]

OrganMasks = Mapping[str, "hd.Volume | NDArray[np.bool_]"]


@dataclass(eq=False)
class VolumeAnalysis:
    """Intermediate result of one emission volume (used twice with an FDG study).

    Attributes:
        suv: the SUV volume analysed.
        agent_class: ``"sstr"``, ``"fdg"`` or ``"glp1r"``.
        reference: liver, spleen, blood-pool references and organ masks.
        labels: lesion label map on the SUV grid (0 background, 1..N by descending SUVmax).
        lesions: per-lesion metrics (no cross-study scores yet).
        threshold_suv: the delineation threshold (outside the liver when it has its own).
        method: the threshold method used.
        options: the options after :func:`~nenscope.analysis.options.resolve`.
        anchors: body centroid and liver z range of the anatomical priors.
        suppressed: organs whose physiological uptake was removed.
        warnings: notes for the findings.
        ct_on_grid: the CT (HU) resampled onto the SUV grid, or ``None``.
    """

    suv: hd.Volume
    agent_class: str
    reference: ReferenceRegions
    labels: NDArray[np.int32]
    lesions: list[Lesion]
    threshold_suv: float
    method: str
    options: ResolvedOptions
    anchors: OrganAnchors
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


def _ct_on_grid(ct: hd.Volume | None, affine: NDArray, shape: tuple[int, ...]) -> NDArray | None:
    if ct is None:
        return None
    # on the emission grid already (imaging.ct_on_emission_grid at load): no pass, no copy
    return resample_array(
        np.asarray(ct.array, dtype=np.float32), ct.affine, affine, shape, order=1, cval=-1000.0
    ).astype(np.float32, copy=False)


def detection_image(
    arr: NDArray[np.float32],
    liver_mask: NDArray[np.bool_] | None,
    spacing: tuple[float, float, float],
    opts: ResolvedOptions,
) -> NDArray[np.float32]:
    """The smoothed copy on which lesions are detected and delineated.

    One separable Gaussian pass (``detect_smooth_fwhm_mm``): a matched filter for lesions of
    ~1 cm, so voxel noise (20-35 % in clinical PET) does not create lesions; metrics are
    measured on the original SUV. The liver's high physiological uptake carries high
    absolute noise: inside the liver mask the stronger ``liver_smooth_fwhm_mm`` filter
    applies (only its bounding box is filtered).
    """
    smooth = (
        ndimage.gaussian_filter(arr, fwhm_to_sigma(opts.detect_smooth_fwhm_mm, spacing))
        if opts.detect_smooth_fwhm_mm > 0
        else arr
    )
    box = None
    if liver_mask is not None and opts.liver_smooth_fwhm_mm > opts.detect_smooth_fwhm_mm:
        box = padded_box(liver_mask, 3 * int(np.ceil(opts.liver_smooth_fwhm_mm / min(spacing))))
    if box is None:
        return smooth
    strong = ndimage.gaussian_filter(arr[box], fwhm_to_sigma(opts.liver_smooth_fwhm_mm, spacing))
    if smooth is arr:
        smooth = arr.copy()
    smooth[box] = np.where(liver_mask[box], strong, smooth[box])  # type: ignore[index]
    return smooth


def _segment(
    smooth: NDArray[np.float32],
    spacing: tuple[float, float, float],
    ref: ReferenceRegions,
    plan: ThresholdPlan,
    veto: PhysiologicalVeto,
    opts: ResolvedOptions,
    ct_grid: NDArray | None,
) -> tuple[NDArray[np.int32], list[str]]:
    """Lesion labels and the organs suppressed (masks with raised thresholds, the veto's)."""
    rules = physiological_rules(opts.agent_class) if opts.suppress_physiological else []
    k = score_rules()["krenning"]
    low = LowUptakeFilter(
        smooth,
        (1.0 - float(k["about_liver_band"])) * plan.liver_mean_suv,
        plan.organ_level_map,
        ct_grid,
        float(score_rules()["sstr_rads"]["ct_contrast_hu"]),
        spacing,
        float(k["none_below_liver_fraction"]) * plan.liver_mean_suv,
        opts.organ_factor,
        ref.masks.get("liver"),
        plan.blur_fwhm_mm or DEFAULT_SHOULDER_MM,
    )

    judge_low = opts.suppress_physiological and plan.liver_mean_suv > 0

    def component_filter(labels: NDArray[np.int32]) -> NDArray[np.int32]:
        """The veto, then the foci below the liver that neither stand out from the organ
        uptake around them nor show on the CT."""
        out = veto(labels)
        return low(out, veto.other_organs) if judge_low else out

    def piece_filter(labels: NDArray[np.int32]) -> NDArray[np.int32]:
        """The pieces split off a kept component are judged by the gland priors again (an
        adrenal gland fused with a liver metastasis), and so are the low foci among them
        (the gland around a pancreatic NET)."""
        out = veto.judge_pieces(labels)
        return low(out, veto.other_organs) if judge_low else out

    organ_regions, suppressed = organ_thresholds(
        smooth,
        {k: v for k, v in ref.masks.items() if k != "liver"},
        rules,
        spacing,
        floor_suv=max(plan.threshold_suv, plan.detect_suv or 0.0),
        organ_factor=opts.organ_factor,
    )
    labels = segment_lesions(
        smooth,
        spacing,
        plan.delineation,
        detect_suv=plan.detect_suv,
        region_detect=plan.region_detect,
        region_thresholds=plan.region_thresholds,
        raise_thresholds=organ_regions,
        min_volume_ml=opts.min_volume_ml,
        suvmax_fraction=opts.suvmax_fraction if plan.method == "suvmax_percent" else None,
        split=opts.split_lesions,
        split_min_height_suv=opts.split_min_height_suv,
        split_min_height_fraction=opts.split_min_height_fraction,
        # the detection image is already smoothed: half a voxel more, not one (one on top
        # of the 4 mm filter filled the saddle between a 25 mm moderate lesion and a SUV-40
        # neighbour 33 mm away, seed 415: peak 6.4 over a 5.7 saddle instead of 7.7 over 5.7)
        split_smooth_sigma_voxels=0.5 if opts.detect_smooth_fwhm_mm > 0 else 1.0,
        fill_holes=opts.fill_holes,
        contrast_fraction=opts.contrast_fraction,
        detect_on_peak=opts.detect_on_peak,
        component_filter=component_filter,
        piece_filter=piece_filter,
    )
    return labels, suppressed + sorted(set(veto.found))


def _veto(
    smooth: NDArray[np.float32],
    affine: NDArray,
    spacing: tuple[float, float, float],
    ref: ReferenceRegions,
    masks: dict[str, NDArray[np.bool_]],
    plan: ThresholdPlan,
    anchors: OrganAnchors,
    opts: ResolvedOptions,
) -> PhysiologicalVeto:
    """The physiological-uptake veto: the agent's built-in detectors, less those whose
    organ is given as a mask."""
    rules = physiological_rules(opts.agent_class) if opts.suppress_physiological else []
    detectors = {r.auto for r in rules if r.auto}
    detectors = {d for d in detectors if not any(d in k.lower() for k in masks)}
    return PhysiologicalVeto(
        smooth=smooth,
        affine=affine,
        spacing=spacing,
        anchors=anchors,
        detectors=detectors,
        agent_class=opts.agent_class,
        liver_mask=ref.masks.get("liver"),
        liver_suv=plan.liver_mean_suv if ref.liver is not None else None,
        gland_max_liver_ratio={
            r.auto: r.max_liver_ratio for r in rules if r.auto and r.max_liver_ratio
        },
        organ_factor=opts.organ_factor,
        min_volume_ml=opts.min_volume_ml,
        split_kidneys=opts.split_kidney_lesions,
        # watershed depths: the kidney is split as touching lesions are; the bladder by the
        # absolute depth alone (half the lowest threshold unless given)
        kidney_split_height_suv=split_height(
            plan.base, opts.split_min_height_suv, opts.split_min_height_fraction
        ),
        kidney_split_fraction=opts.split_min_height_fraction,
        bladder_split_height_suv=split_height(plan.base, opts.split_min_height_suv, None),
        liver_mask_automatic=ref.liver is not None and ref.liver.origin == "automatic",
        other_organs=ref.masks.get("spleen"),
        shoulder_mm=plan.blur_fwhm_mm or DEFAULT_SHOULDER_MM,
    )


def _site_context(
    arr: NDArray[np.float32],
    affine: NDArray,
    spacing: tuple[float, float, float],
    ref: ReferenceRegions,
    ct_grid: NDArray | None,
    anchors: OrganAnchors,
    veto: PhysiologicalVeto,
) -> SiteContext:
    """Masks, CT and anatomical anchors that name the lesion sites: the automatic liver
    closed (a metastasis on its surface is a bite out of the mask), the kidneys from masks
    when given, else those the veto recognised."""
    site_masks = dict(ref.masks)
    if "liver" in site_masks and ref.liver is not None and ref.liver.origin == "automatic":
        site_masks["liver"] = liver_envelope(site_masks["liver"], spacing)
    kidneys = list(veto.kidneys)
    kidney_masks = [m for k, m in ref.masks.items() if site_of_mask(k) == "kidney"]
    if kidney_masks:
        lab = np.zeros(arr.shape, np.int32)
        for i, m in enumerate(kidney_masks[:2], start=1):
            lab[m & (lab == 0)] = i
        kidneys = component_table(arr, lab, affine, anchors.body_centroid_ijk)
    return SiteContext(
        masks=site_masks,
        affine=affine,
        body_centroid_ijk=anchors.body_centroid_ijk,
        liver_z_range_mm=anchors.liver_z_range_mm,
        kidneys=kidneys,
        ct_hu=ct_grid,
    )


def _measure(
    arr: NDArray[np.float32],
    labels: NDArray[np.int32],
    spacing: tuple[float, float, float],
    affine: NDArray,
    ref: ReferenceRegions,
    ct_grid: NDArray | None,
    opts: ResolvedOptions,
    sites: SiteContext,
) -> list[Lesion]:
    """Per-lesion metrics on the original SUV, sites named by ``sites``."""
    return measure_lesions(
        arr,
        labels,
        spacing,
        affine,
        ref,
        ct_hu=ct_grid,
        sites=sites,
        psf_fwhm_mm=opts.psf_fwhm_mm,
    )


def _lesions(
    arr: NDArray[np.float32],
    affine: NDArray,
    spacing: tuple[float, float, float],
    ref: ReferenceRegions,
    masks: dict[str, NDArray[np.bool_]],
    body: NDArray[np.bool_],
    ct_grid: NDArray | None,
    anchors: OrganAnchors,
    opts: ResolvedOptions,
) -> tuple[NDArray[np.int32], list[Lesion], ThresholdPlan, list[str]]:
    """Threshold plan, lesion labels, the organs suppressed and the measured lesions (and
    the blood pool when no mask gave it) of one volume, all on the same grid."""
    z_ax = patient_axes(affine)[2]
    smooth = detection_image(arr, ref.masks.get("liver"), spacing, opts)
    plan = plan_thresholds(arr, smooth, body, ref, masks, spacing, z_ax, opts)
    veto = _veto(smooth, affine, spacing, ref, masks, plan, anchors, opts)
    labels, suppressed = _segment(smooth, spacing, ref, plan, veto, opts, ct_grid)
    sites = _site_context(arr, affine, spacing, ref, ct_grid, anchors, veto)
    if ref.blood_pool is None:
        ref.blood_pool = find_aorta_blood_pool(
            arr,
            affine,
            spacing,
            body,
            anchors.body_centroid_ijk,
            anchors.liver_z_range_mm,
            ct_hu=ct_grid,
            kidneys=sites.kidneys,
            lesions=labels,
        )
        if ref.blood_pool is None:
            ref.notes.append("blood pool: the descending aorta was not found")
    lesions = _measure(arr, labels, spacing, affine, ref, ct_grid, opts, sites)
    return labels, lesions, plan, suppressed


def _full_grid_anchors(
    body: NDArray[np.bool_], ref: ReferenceRegions, affine: NDArray, box: BodyBox
) -> OrganAnchors:
    """The anchors of the full grid from the references found in ``box`` (the same numbers
    as on the full grid: the body centroid is taken on the full mask)."""
    liver = ref.masks.get("liver")
    centre = None
    if ref.liver is not None and ref.liver.voi_center_ijk is not None:
        centre = tuple(float(c) for c in np.asarray(ref.liver.voi_center_ijk) + box.offset)
    return organ_anchors(
        body,
        None if liver is None else box.paste(liver),
        affine,
        centre,  # type: ignore[arg-type]
    )


def _references_on_full_grid(
    ref: ReferenceRegions, box: BodyBox, masks: dict[str, NDArray[np.bool_]]
) -> None:
    """The references found in ``box`` moved to the full grid, in place: masks (the given
    ones as given) and the VOI centres' indices."""
    for name, m in ref.masks.items():
        ref.masks[name] = masks[name] if name in masks else box.paste(m)
    for region in (ref.liver, ref.spleen, ref.blood_pool):
        if region is not None and region.voi_center_ijk is not None:
            region.voi_center_ijk = tuple(  # type: ignore[assignment]
                float(c) for c in np.asarray(region.voi_center_ijk) + box.offset
            )


def analyze_volume(
    suv: hd.Volume,
    *,
    agent_class: str,
    ct: hd.Volume | None = None,
    organ_masks: OrganMasks | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    mask_origin: str = "user",
    radionuclide: str | None = None,
) -> VolumeAnalysis:
    """References, lesions and per-lesion metrics of one SUV volume (no cross-study scores).

    Everything after the body mask runs on the body's box (:func:`~nenscope.analysis._crop.
    body_box`: the body and the organ masks plus a margin wider than the analysis' filters),
    with the same results as on the whole grid; labels, masks and indices are returned on
    the whole grid.

    Args:
        suv: SUV volume (``highdicom.Volume``, PATIENT coordinates).
        agent_class: ``"sstr"``, ``"fdg"`` or ``"glp1r"`` (rules and detectors).
        ct: CT volume on any grid in the same frame of reference, or ``None``.
        organ_masks: organ masks by name (volumes on any grid, or arrays on the SUV grid).
        options: thresholds, minimum volume, splitting.
        mask_origin: provenance label of ``organ_masks``.
        radionuclide: the study's radionuclide, for the scanner profile's resolution
            (:func:`~nenscope.analysis.options.resolve`).
    """
    opts = resolve(options, agent_class, radionuclide)
    arr = np.asarray(suv.array, dtype=np.float32)
    if arr.ndim != 3:
        raise NenscopeError(f"the emission volume must be 3-D, not {arr.ndim}-D")
    affine = np.asarray(suv.affine, dtype=float)
    spacing = spacing_from_affine(affine)
    ct_grid = _ct_on_grid(ct, affine, arr.shape)
    masks = _masks_on_grid(organ_masks, suv)
    body = body_mask(arr, spacing, patient_axes(affine)[2])
    box = body_box(body, spacing, masks)
    box_affine = box.affine(affine)
    box_arr, box_body = box.crop(arr), box.crop(body)
    box_ct = None if ct_grid is None else box.crop(ct_grid)
    box_masks = {k: box.crop(m) for k, m in masks.items()}
    ref = find_reference_regions(
        box_arr,
        spacing,
        box_affine,
        ct_hu=box_ct,
        masks=box_masks,
        mask_origin=mask_origin,
        body=box_body,
    )
    anchors = _full_grid_anchors(body, ref, affine, box)
    box_anchors = OrganAnchors(anchors.body_centroid_ijk - box.offset, anchors.liver_z_range_mm)
    labels, lesions, plan, suppressed = _lesions(
        box_arr, box_affine, spacing, ref, box_masks, box_body, box_ct, box_anchors, opts
    )
    _references_on_full_grid(ref, box, masks)
    warnings = list(ref.notes) + plan.warnings
    outside = box.max_outside(arr)
    if outside is not None and outside > plan.threshold_suv:
        warnings.append(
            f"uptake more than {CROP_MARGIN_MM:.0f} mm from the body (SUV up to {outside:.1f})"
            " was not analysed"
        )
    return VolumeAnalysis(
        suv=suv,
        agent_class=agent_class,
        reference=ref,
        labels=box.paste(labels),
        lesions=lesions,
        threshold_suv=plan.threshold_suv,
        method=plan.method,
        suppressed=suppressed,
        warnings=warnings,
        ct_on_grid=ct_grid,
        options=opts,
        anchors=anchors,
    )
