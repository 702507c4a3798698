"""Each rule of the IBSI-1 CT-phantom configurations A–E (IBSI reference manual,
arXiv:1612.07003, chapter 5, configuration tables) pinned on small CT-like volumes built so
that the result is known by hand: re-segmentation ranges that must clip, masks that must be
interpolated (partial-volume threshold 0.5), 2D vs 3D aggregation, the IVH discretisation of
each configuration.

The volumes use 1 mm in-plane voxels, so the 2 mm grid (centres aligned, IBSI 2.4) puts every
new point midway between two old ones: (bi/tri)linear interpolation then averages each 2 × 2
(× 2) block, and a mask block holding half ROI voxels interpolates to exactly 0.5."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import numpy as np
import pytest

from nenscope.radiomics import extract_features, preset
from nenscope.radiomics.processing import interpolate

AIR_HU, TISSUE_HU, BONE_HU = -1000.0, 40.0, 1000.0


def _blocks(values: np.ndarray) -> np.ndarray:
    """Old 1 mm grid whose 2 × 2 × 2 blocks hold ``values`` (one per 2 mm voxel)."""
    return np.repeat(np.repeat(np.repeat(values, 2, 0), 2, 1), 2, 2)


# --- configuration A: 2D, no interpolation, [-500, 400] HU, FBS 25 HU, IVH not discretised


def _config_a_volume() -> tuple[np.ndarray, np.ndarray]:
    """Soft tissue alternating 20 / 60 HU from slice to slice (uniform within a slice), with
    an air pocket and a bone fragment inside the ROI."""
    img = np.full((8, 20, 20), AIR_HU)
    mask = np.zeros(img.shape, bool)
    mask[1:7, 4:16, 4:16] = True  # 6 × 12 × 12 = 864 voxels
    for k in range(1, 7):
        img[k][mask[k]] = 20.0 if k % 2 == 0 else 60.0
    img[2, 6:8, 6:8] = -900.0  # air pocket: 4 voxels
    img[3, 10:12, 10:13] = BONE_HU  # bone: 6 voxels
    return img, mask


def test_config_a_resegments_to_minus_500_400_hu_and_keeps_the_morphological_mask():
    img, mask = _config_a_volume()
    f = extract_features(img, mask, (3.0, 1.0, 1.0), "ibsi-a")
    assert f["stat_min"] == 20.0 and f["stat_max"] == 60.0  # air and bone re-segmented away
    n20, n60 = 3 * 144 - 4, 3 * 144 - 6
    assert f["stat_mean"] == pytest.approx((20 * n20 + 60 * n60) / (n20 + n60), rel=1e-12)
    assert f["morph_vol_approx"] == pytest.approx(864 * 3.0)  # morphology: every ROI voxel
    # FBS 25 HU from -500: 20 HU -> bin 21, 60 HU -> bin 23; 20 HU is the more frequent
    assert (f["ih_mode"], f["ih_min"], f["ih_max"]) == (21.0, 21.0, 23.0)
    # IVH on integer HU over [-500, 400]: nu(60) = n60/n, nu(61) = 0
    assert f["ivh_i10"] == 61.0 and f["ivh_i90"] == 21.0
    assert f["ivh_v10"] == 1.0 and f["ivh_v90"] == 0.0  # gamma >= 0.1 from -410 HU on


def test_config_a_range_bounds_are_inclusive():
    img, mask = _config_a_volume()
    img[4, 8, 8], img[5, 9, 9] = -500.0, 400.0
    f = extract_features(img, mask, (3.0, 1.0, 1.0), "ibsi-a")
    assert f["stat_min"] == -500.0 and f["stat_max"] == 400.0
    assert f["ih_min"] == 1.0 and f["ih_max"] == 37.0  # floor(900 / 25) + 1


def test_config_a_aggregates_texture_per_slice():
    """Within every slice the re-segmented ROI holds one grey level: 2D and 2.5D GLCM
    contrast is exactly 0; across slices (3D) it is not."""
    img, mask = _config_a_volume()
    f = extract_features(img, mask, (3.0, 1.0, 1.0), "ibsi-a")
    assert not any(k.endswith(("_3D", "_3D_avg", "_3D_comb")) for k in f)
    for tag in ("cm_contrast_2D_avg", "cm_contrast_2D_comb", "cm_contrast_2_5D_comb"):
        assert f[tag] == 0.0
    assert f["rlm_glnu_norm_2D_avg"] == pytest.approx(1.0)  # one grey level per slice
    f3 = extract_features(
        img, mask, (3.0, 1.0, 1.0), preset("ibsi-a").replace(texture_spaces=("3D",))
    )
    assert f3["cm_contrast_3D_comb"] > 0.5


# --- configuration B: 2D, bilinear 2 × 2 mm in plane, [-500, 400] HU, FBN 32, IVH not discretised


def test_config_b_interpolates_in_plane_then_clips_to_minus_500_400_hu():
    img = np.full((6, 24, 24), TISSUE_HU)
    img[2, 8:10, 8:10] = BONE_HU  # one 2 mm pixel of bone: 1000 HU, above 400
    img[3, 10, 12:14] = AIR_HU  # half air: (2 * -1000 + 2 * 40) / 4 = -480 HU, kept
    img[2, 12:14, 6:8] = AIR_HU
    img[2, 13, 7] = TISSUE_HU  # three quarters air: -740 HU, inside [-1000, 400], not [-500, 400]
    mask = np.zeros(img.shape, bool)
    mask[1:5, 4:20, 5:18] = True
    mask[2, 20, 10] = True  # a 1 mm protrusion: a quarter of a 2 mm pixel, below 0.5
    f = extract_features(img, mask, (3.0, 1.0, 1.0), "ibsi-b")
    # in-plane pixels: rows 4-19 -> 8 full; columns 5-17 -> one half (4-5, kept at 0.5) + 6
    # full; the slice spacing stays 3 mm (2D configuration: no interpolation across slices)
    assert f["morph_vol_approx"] == pytest.approx(4 * 8 * 7 * 3.0 * 2.0 * 2.0)
    assert f["stat_min"] == -480.0 and f["stat_max"] == TISSUE_HU
    n = 4 * 8 * 7 - 2  # bone and the -740 HU pixel re-segmented away
    assert f["stat_mean"] == pytest.approx(((n - 1) * TISSUE_HU - 480.0) / n, rel=1e-12)
    assert (f["ih_min"], f["ih_max"]) == (1.0, 32.0)  # FBN 32 over [-480, 40]
    assert f["ivh_i10"] == 41.0  # integer HU: the first intensity no voxel reaches
    assert f["ivh_v10"] == pytest.approx((n - 1) / n)  # gamma >= 0.1 from -410 HU on
    assert "cm_contrast_2D_avg" in f and "cm_contrast_3D_avg" not in f


# --- configuration C: 3D, trilinear 2 mm, [-1000, 400] HU, FBS 25 HU from -1000, IVH FBS 2.5 HU


def test_config_c_trilinear_mask_threshold_fbs_from_the_lower_bound_and_ivh_bins():
    x_mm = np.arange(52.0)
    img = np.broadcast_to(-1220.0 + 40.0 * x_mm, (20, 20, 52)).copy()
    # on the 2 mm grid (points at x = 2j + 0.5): -1200 + 80 j HU, j = 0..25
    mask = np.zeros(img.shape, bool)
    mask[3:15, 5:16, 2:50] = True
    f = extract_features(img, mask, (1.0, 1.0, 1.0), "ibsi-c")
    # 2 mm voxels per x column: slices 3-14 -> 5 full + 2 half blocks, rows 5-15 -> 5 full
    # + 1 half; a block at half in one axis (0.5) is kept, half in two axes (0.25) is not
    per_column = 5 * 5 + 2 * 5 + 5 * 1
    assert f["morph_vol_approx"] == pytest.approx(per_column * 24 * 8.0)
    # j = 3..20 (-960 .. 400 HU) survive [-1000, 400]; -1040 and 480 HU do not
    assert f["stat_min"] == -960.0 and f["stat_max"] == 400.0
    assert (f["ih_min"], f["ih_max"]) == (2.0, 57.0)  # floor((x + 1000) / 25) + 1
    # IVH: 2.5 HU bins from -1000, intensity = bin centre; 18 equally filled values, so
    # nu <= 0.1 only above the second-highest (320 HU) and nu <= 0.9 above the lowest two
    assert f["ivh_i10"] == pytest.approx(-1000 + 2.5 * (528 + 1.5))
    assert f["ivh_i90"] == pytest.approx(-1000 + 2.5 * (48 + 1.5))
    assert "cm_contrast_3D_avg" in f and "cm_contrast_2D_avg" not in f


# --- configuration D: 3D, trilinear 2 mm, no range, mean ± 3 SD, FBN 32, IVH not discretised


def test_config_d_filters_outliers_without_a_range_and_uses_integer_hu_for_the_ivh():
    levels = np.where(np.indices((12, 12, 12)).sum(0) % 2 == 0, 30.0, 50.0)
    levels[6, 6, 6] = 3000.0  # calcification: outlier
    levels[5, 5, 5] = AIR_HU  # air: outlier
    levels[3, 3, 3] = 420.0  # above 400 HU but within mean + 3 SD: kept (no range in D)
    img = _blocks(levels)
    roi = np.zeros((12, 12, 12), bool)
    roi[2:10, 2:10, 2:10] = True  # 512 voxels of 2 mm
    vals = levels[roi]
    mu, sd = vals.mean(), vals.std()
    assert mu - 3 * sd > AIR_HU and mu + 3 * sd < 3000.0 and 420.0 < mu + 3 * sd
    f = extract_features(img, _blocks(roi), (1.0, 1.0, 1.0), "ibsi-d")
    assert f["morph_vol_approx"] == pytest.approx(512 * 8.0)
    assert f["stat_min"] == 30.0 and f["stat_max"] == 420.0
    n30, n50 = 255, 254  # parity classes of the ROI less the replaced blocks
    assert f["stat_mean"] == pytest.approx((30 * n30 + 50 * n50 + 420) / 510, rel=1e-12)
    # IVH over the ROI's integer HU 30..420: nu(50) = 255/510, nu(51) = 1/510
    assert f["ivh_i10"] == 51.0 and f["ivh_i90"] == 31.0
    assert f["ivh_v10"] == pytest.approx(1 / 510)  # gamma >= 0.1 from 69 HU on
    # FBN 32 over [30, 420]: 30 -> 1, 50 -> floor(32 * 20 / 390) + 1 = 2, 420 -> 32
    assert f["ih_mean"] == pytest.approx((n30 * 1 + n50 * 2 + 32) / 510, rel=1e-12)


# --- configuration E: 3D, tricubic 2 mm, [-1000, 400] HU and mean ± 3 SD, FBN 32, IVH FBN 1000


def test_config_e_tricubic_range_then_outliers_and_ivh_over_the_roi_range():
    """A quadratic profile 8 (x - 12.5)² - 1100 HU along x: a cubic spline reproduces it, so on
    the 2 mm grid plane d holds 32 d² - 1100 HU exactly (trilinear: 2 HU more). ROI planes
    d = 0..8 with 4 rows each, except d = 6 with one row."""
    x_mm = np.arange(40.0)
    img = np.broadcast_to(8.0 * (x_mm - 12.5) ** 2 - 1100.0, (26, 28, 40)).copy()
    roi = np.zeros((13, 14, 20), bool)
    roi[5:8, 5:9, 6:15] = True
    roi[5:8, 6:9, 12] = False  # plane d = 6 (52 HU): one row of three voxels
    f = extract_features(img, _blocks(roi), (1.0, 1.0, 1.0), "ibsi-e")
    # d = 0, 1 (-1100, -1068) and 7, 8 (468, 948 HU) lie outside [-1000, 400]; the 3 SD band
    # comes from the whole ROI (IBSI 2.6, as MIRP), so it keeps 52 HU (from the range-kept
    # values alone it would be [-1519, 268] HU and drop it)
    assert f["stat_min"] == -972.0 and f["stat_max"] == 52.0
    # IVH: 1000 bins over the ROI's own [-972, 52] HU (not the re-segmentation range):
    # -972 -> 1, -812 -> 157, -588 -> 376, -300 -> 657, 52 -> 1000; weights 4:4:4:4:1
    assert f["ivh_i10"] == 658.0 and f["ivh_i90"] == 2.0
    assert f["ivh_v10"] == pytest.approx(13 / 17) and f["ivh_v90"] == pytest.approx(1 / 17)
    assert (f["ih_min"], f["ih_max"]) == (1.0, 32.0)


# --- processing rules shared by B-E


def test_interpolated_mask_keeps_points_at_exactly_one_half():
    """Trilinear mask values on the grid of the IBSI CT phantom (0.977 × 0.977 × 3 mm to 2 mm)
    against exact rational arithmetic: points that lie midway between ROI and background
    (value exactly 1/2, computed as 0.4999… in floating point) belong to the ROI."""
    rng = np.random.default_rng(3)
    shape = (10, 12, 12)
    mask = np.zeros(shape, bool)
    mask[1:9, 2:10, 2:10] = True  # its first and last slices lie midway between new points
    mask[2:8, 2:10, 2:10] &= rng.random((6, 8, 8)) < 0.8
    spacing = (Fraction(3), Fraction("0.977"), Fraction("0.977"))
    new = Fraction(2)
    axes = []
    for n, s in zip(shape, spacing, strict=True):
        n_new = -((-n * s) // new)  # ceil
        step = new / s
        first = Fraction(n - 1, 2) - (n_new - 1) * step / 2
        axes.append([first + k * step for k in range(int(n_new))])

    def exact(point):
        total = Fraction(0)
        base = [int(np.floor(float(c))) for c in point]
        for corner in product((0, 1), repeat=3):
            idx = [b + c for b, c in zip(base, corner, strict=True)]
            if all(0 <= i < n for i, n in zip(idx, shape, strict=True)) and mask[tuple(idx)]:
                w = Fraction(1)
                for c, i, x in zip(corner, idx, point, strict=True):
                    w *= (x - (i - 1)) if c else (i + 1 - x)
                total += w
        return total

    values = [exact(p) for p in product(*axes)]
    assert sum(v == Fraction(1, 2) for v in values) >= 5  # the rule is exercised
    _, m, _ = interpolate(np.zeros(shape), mask, (3.0, 0.977, 0.977), (2.0, 2.0, 2.0))
    assert m.sum() == sum(v >= Fraction(1, 2) for v in values)


def test_interpolation_pads_with_the_nearest_boundary_intensity():
    """The 2 mm grid is wider than the image (ceil, centres aligned), so its end points are
    extrapolated: with the nearest boundary intensity (IBSI 5.2 notes), not a mirror image."""
    img = np.broadcast_to(np.array([0.0, 10.0]), (3, 3, 2)).copy()
    out, _, _ = interpolate(img, np.ones(img.shape, bool), (1.0, 1.0, 1.0), (None, None, 0.6))
    # new x positions -0.4, 0.2, 0.8, 1.4 (index units): 0, 2, 8, 10 HU
    assert out[1, 1].tolist() == pytest.approx([0.0, 2.0, 8.0, 10.0])
