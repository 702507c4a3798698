"""Lesion segmentation on analytic spheres: thresholds, size filter, splitting, exclusion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nenscope.analysis.rules import physiological_rules
from nenscope.analysis.segmentation import (
    label_max,
    liver_threshold,
    percist_threshold,
    physiological_mask,
    segment_lesions,
)

SP = (2.0, 2.0, 2.0)


def _balls(shape, centres_radii_values, background=1.0, blur_mm=0.0):
    idx = np.indices(shape).astype(np.float32) * 2.0
    out = np.full(shape, background, np.float32)
    masks = []
    for c, r, v in centres_radii_values:
        m = ((idx[0] - c[0]) ** 2 + (idx[1] - c[1]) ** 2 + (idx[2] - c[2]) ** 2) <= r * r
        out[m] = v
        masks.append(m)
    if blur_mm:
        out = ndimage.gaussian_filter(out, blur_mm / 2.3548 / 2.0)
    return out, masks


def test_threshold_formulas():
    assert liver_threshold(8.0, 1.0) == pytest.approx(10.0)
    assert liver_threshold(8.0, 1.0, factor=1.5, k_sd=3.0) == pytest.approx(16.5)
    # PERCIST 1.0: 1.5 x mean + 2 SD
    assert percist_threshold(2.0, 0.3) == pytest.approx(3.6)


def test_two_spheres_volumes_and_order():
    suv, masks = _balls((40, 40, 60), [((40, 40, 30), 8.0, 10.0), ((40, 40, 90), 10.0, 20.0)])
    lab = segment_lesions(suv, SP, 5.0, min_volume_ml=0.1)
    assert lab.max() == 2
    # ordered by SUVmax: label 1 is the SUV 20 sphere
    assert (lab == 1).sum() == masks[1].sum()
    assert (lab == 2).sum() == masks[0].sum()
    np.testing.assert_allclose(label_max(suv, lab)[1:], [20.0, 10.0])


def test_min_volume_and_exclusion():
    suv, masks = _balls((40, 40, 60), [((40, 40, 30), 3.0, 10.0), ((40, 40, 90), 10.0, 20.0)])
    small_ml = masks[0].sum() * 8.0 / 1000.0
    kw = {"detect_on_peak": False}  # the 3 mm sphere's 1 cm^3 peak is below the threshold
    lab = segment_lesions(suv, SP, 5.0, min_volume_ml=small_ml + 0.01, **kw)
    assert lab.max() == 1 and (lab == 1).sum() == masks[1].sum()
    lab = segment_lesions(suv, SP, 5.0, min_volume_ml=0.01, exclude=masks[1], **kw)
    assert lab.max() == 1 and (lab == 1).sum() == masks[0].sum()
    # detected on SUVpeak, the small sphere is not measurable: its 1 cm^3 mean is
    # 1 + 9 x (0.113 ml / 1 ml) ~ 2 < 5
    lab = segment_lesions(suv, SP, 5.0, min_volume_ml=0.01)
    assert lab.max() == 1 and (lab == 1).sum() == masks[1].sum()


def test_touching_lesions_are_split_noise_is_not():
    # two blurred spheres whose halos merge above the threshold
    suv, masks = _balls(
        (40, 40, 60), [((40, 40, 46), 9.0, 20.0), ((40, 40, 68), 9.0, 20.0)], blur_mm=8.0
    )
    merged = segment_lesions(suv, SP, 4.0, min_volume_ml=0.1, split=False)
    assert merged.max() == 1
    lab = segment_lesions(suv, SP, 4.0, min_volume_ml=0.1, split=True)
    assert lab.max() == 2
    for m in masks:  # each true sphere lies (almost) wholly in one piece
        counts = np.bincount(lab[m], minlength=3)[1:]
        assert counts.max() >= 0.95 * m.sum()
    # one large noisy lesion stays one lesion
    rng = np.random.default_rng(3)
    big, _ = _balls((40, 40, 40), [((40, 40, 40), 25.0, 20.0)], blur_mm=6.0)
    big = big * (1 + 0.1 * rng.standard_normal(big.shape)).astype(np.float32)
    lab = segment_lesions(big, SP, 8.0, min_volume_ml=0.5)
    assert lab.max() == 1


def test_moderate_lesion_on_a_hot_neighbours_tail_is_split_off():
    # SUV 10 sphere 6 mm from an SUV 40 one (10 mm blur): its peak rises ~1.5 SUV (15 %)
    # above the saddle. An absolute depth of half the threshold fuses the two and the A50
    # trim of the fused component then drops the moderate lesion; the relative depth keeps it.
    suv, masks = _balls(
        (40, 40, 70), [((40, 40, 40), 12.0, 40.0), ((40, 40, 66), 8.0, 10.0)], blur_mm=10.0
    )
    kw = {"min_volume_ml": 0.1, "contrast_fraction": 0.5}
    fused = segment_lesions(suv, SP, 4.0, **kw)
    assert fused.max() == 1 and not fused[masks[1]].any()
    lab = segment_lesions(suv, SP, 4.0, split_min_height_fraction=0.1, **kw)
    assert lab.max() == 2
    assert np.unique(lab[masks[0]])[-1] != np.unique(lab[masks[1]])[-1]
    assert label_max(suv, lab)[2] == pytest.approx(suv[masks[1]].max(), rel=0.02)
    # a hot lesion with 10 % voxel noise is not broken up by the relative test
    big, _ = _balls((40, 40, 40), [((40, 40, 40), 25.0, 40.0)], blur_mm=6.0)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        noisy = big * (1 + 0.1 * rng.standard_normal(big.shape)).astype(np.float32)
        assert (
            segment_lesions(noisy, SP, 8.0, min_volume_ml=0.5, split_min_height_fraction=0.1).max()
            == 1
        )


def test_hysteresis_and_suvmax_percent():
    suv, masks = _balls((40, 40, 60), [((40, 40, 30), 8.0, 4.0), ((40, 40, 90), 8.0, 20.0)])
    for on_peak in (True, False):
        lab = segment_lesions(
            suv, SP, 3.0, detect_suv=6.0, min_volume_ml=0.01, detect_on_peak=on_peak
        )
        assert lab.max() == 1 and label_max(suv, lab)[1] == 20.0
    # 41 % of each component's own maximum: a ramp lesion keeps its upper part only
    ramp = np.zeros((10, 10, 40), np.float32)
    ramp[:, :, 5:35] = np.linspace(2.0, 10.0, 30, dtype=np.float32)
    lab = segment_lesions(
        ramp,
        SP,
        1.0,
        suvmax_fraction=0.41,
        min_volume_ml=0.01,
        split=False,
        detect_on_peak=False,
    )
    kept = ramp[lab > 0]
    assert kept.min() >= 0.41 * 10.0 and kept.min() < 0.41 * 10.0 + 8.0 / 29


def test_region_detect_replaces_the_detection_level_where_a_lesion_peaks():
    # two identical SUV-4 spheres; only the one peaking inside the region (a "liver" with
    # its own noise-calibrated level 3.5) passes, the other stays below detect_suv 6
    suv, masks = _balls((40, 40, 60), [((40, 40, 30), 8.0, 4.0), ((40, 40, 90), 8.0, 4.0)])
    region = np.zeros(suv.shape, bool)
    region[:, :, :30] = True
    for on_peak in (True, False):
        kw = {"detect_suv": 6.0, "min_volume_ml": 0.01, "detect_on_peak": on_peak}
        assert segment_lesions(suv, SP, 3.0, **kw).max() == 0
        lab = segment_lesions(suv, SP, 3.0, region_detect=[(region, 3.5)], **kw)
        assert lab.max() == 1 and np.array_equal(lab == 1, masks[0])
        # a region level above the general one raises it there
        lab = segment_lesions(
            suv, SP, 3.0, region_detect=[(region, 8.0)], **{**kw, "detect_suv": 3.5}
        )
        assert lab.max() == 1 and np.array_equal(lab == 1, masks[1])


def test_noise_clusters_fail_the_peak_test():
    rng = np.random.default_rng(0)
    liver = (8.0 * (1 + 0.1 * rng.standard_normal((40, 40, 40)))).astype(np.float32)
    liver = ndimage.gaussian_filter(liver, 0.8)
    sd = float(liver.std())
    t = liver_threshold(8.0, sd)
    noisy = segment_lesions(liver, SP, t, min_volume_ml=0.02, detect_on_peak=False)
    assert noisy.max() >= 1  # mean + 2 SD is crossed by chance
    assert segment_lesions(liver, SP, t, min_volume_ml=0.02).max() == 0


def test_contrast_trim_recovers_the_sphere_volume():
    # a hot sphere in a warm background, blurred: the low threshold over-sizes it, the
    # background-corrected 50 % contour gives about the true volume (a little less: the
    # blurred profile of a sphere crosses 50 % inside its edge)
    suv, masks = _balls((50, 50, 50), [((50, 50, 50), 12.0, 40.0)], background=8.0, blur_mm=7.0)
    plain = segment_lesions(suv, SP, 9.0, min_volume_ml=0.1)
    a50 = segment_lesions(suv, SP, 9.0, min_volume_ml=0.1, contrast_fraction=0.5)
    true = masks[0].sum()
    assert (plain > 0).sum() > 1.5 * true
    assert 0.75 * true <= (a50 > 0).sum() <= 1.05 * true


def test_fill_holes_of_necrotic_lesion():
    suv, masks = _balls((40, 40, 40), [((40, 40, 40), 20.0, 10.0), ((40, 40, 40), 10.0, 0.5)])
    lab = segment_lesions(suv, SP, 5.0, min_volume_ml=0.1, fill_holes=True)
    assert (lab == 1).sum() == masks[0].sum()
    lab = segment_lesions(suv, SP, 5.0, min_volume_ml=0.1, fill_holes=False)
    assert (lab == 1).sum() == masks[0].sum() - masks[1].sum()


def test_physiological_mask_dilates_by_rule_margin():
    shape = (30, 30, 30)
    kid = np.zeros(shape, bool)
    kid[10:20, 10:20, 10:20] = True
    out, used = physiological_mask(
        shape, {"kidney_left": kid, "liver": kid}, physiological_rules("sstr"), SP
    )
    margin = next(r.dilation_mm for r in physiological_rules("sstr") if r.organ == "kidney")
    steps = int(margin // 2.0)
    assert used == ["kidney (kidney_left)"]
    assert out[15, 15, 10 - steps] and not out[15, 15, 10 - steps - 1]


def test_liver_envelope_gives_a_surface_metastasis_back_to_the_liver():
    """The automatic liver mask leaves a hot metastasis on its surface out (a bite); the
    envelope used to name lesion sites closes the bite and nothing far from the liver."""
    from nenscope.analysis.organs import liver_envelope

    sp = (4.0, 4.0, 4.0)
    z, y, x = np.indices((50, 50, 50)) * 4.0
    liver = (x - 100) ** 2 + (y - 100) ** 2 + (z - 100) ** 2 <= 60.0**2
    lesion = (x - 100) ** 2 + (y - 100) ** 2 + (z - 158) ** 2 <= 9.0**2  # 18 mm, on the surface
    bite = liver & ~lesion
    env = liver_envelope(bite, sp)
    assert (env & lesion & liver).sum() >= 0.9 * (lesion & liver).sum()
    assert not (env & ((x - 100) ** 2 + (y - 100) ** 2 + (z - 100) ** 2 > 64.0**2)).any()
    assert liver_envelope(np.zeros_like(bite), sp).sum() == 0
