"""IBSI-1: every digital-phantom feature of the reference table within tolerance, plus the
image-processing steps against analytic results."""

from __future__ import annotations

import math
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest

from nenscope.errors import NenscopeError
from nenscope.radiomics import (
    RadiomicsSettings,
    extract_features,
    extract_volume_features,
    lesion_features,
    load_settings,
    preset,
    preset_names,
)
from nenscope.radiomics.conformance import check_conformance, read_reference_table
from nenscope.radiomics.processing import discretise, interpolate, resegment

DATA = Path(__file__).parent / "data" / "ibsi1"


def _phantom():
    # NIfTI (x, y, z) -> (slice, row, column)
    img = np.asarray(nib.load(DATA / "digital_phantom" / "phantom.nii.gz").dataobj).transpose(
        2, 1, 0
    )
    msk = np.asarray(nib.load(DATA / "digital_phantom" / "mask.nii.gz").dataobj).transpose(2, 1, 0)
    return img.astype(float), msk > 0


def _reference():
    return read_reference_table(
        DATA / "reference_values" / "ibsi_1_reference_values_digital_phantom.csv"
    )


@pytest.fixture(scope="module")
def phantom_features():
    img, msk = _phantom()
    return extract_features(img, msk, (2.0, 2.0, 2.0), preset("ibsi-phantom"))


def test_digital_phantom_every_reference_feature_within_tolerance(phantom_features, capsys):
    rows = _reference()
    assert len(rows) == 482  # 487 tags, 5 without a consensus value (OMBB, MVEE, IVH AUC)
    assert all(r.tag in phantom_features for r in rows)
    result = check_conformance(phantom_features, rows)
    strict = sum(abs(phantom_features[r.tag] - r.value) <= r.tolerance for r in rows)
    with capsys.disabled():
        print(
            f"\nIBSI-1 digital phantom: {result.n_within}/{result.n_total} features within "
            f"tolerance ({strict} also without rounding the value to the reference's 3 digits)"
        )
    assert result.failures == []


def test_features_without_consensus_value_are_still_computed(phantom_features):
    for tag in (
        "morph_vol_dens_ombb",
        "morph_area_dens_ombb",
        "morph_vol_dens_mvee",
        "morph_area_dens_mvee",
        "ivh_auc",
    ):
        assert math.isfinite(phantom_features[tag])
    # bounding shapes enclose the mesh: densities below 1 (AABB/OMBB/MVEE)
    assert 0 < phantom_features["morph_vol_dens_ombb"] <= 1.0 + 1e-9
    assert phantom_features["morph_vol_dens_ombb"] >= phantom_features["morph_vol_dens_aabb"] - 1e-9
    assert 0 < phantom_features["morph_vol_dens_mvee"] <= 1.0 + 1e-3


def test_volume_wrapper_matches_array_api_and_puts_slices_first(phantom_features):
    img, msk = _phantom()
    # a NIfTI-like volume: array (x, y, z) with the slice axis last
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    vol = hd.Volume(img.transpose(2, 1, 0), affine, "PATIENT")
    feats = extract_volume_features(vol, msk.transpose(2, 1, 0), preset("ibsi-phantom"))
    for tag in (
        "cm_joint_max_2D_avg",
        "rlm_sre_2_5D_comb",
        "szm_sze_2D",
        "morph_volume",
        "ngt_coarseness_2D",
    ):
        assert feats[tag] == pytest.approx(phantom_features[tag], rel=1e-12)


def test_lesion_features_one_dict_per_label():
    img, msk = _phantom()
    labels = np.zeros(img.shape, dtype=np.int16)
    labels[msk] = 1
    labels[0, 0, 0] = 0
    big = np.pad(img, ((0, 0), (0, 0), (0, 6)))
    lab2 = np.pad(labels, ((0, 0), (0, 0), (0, 6)))
    lab2[1:3, 1:3, 6:8] = 3
    big[1:3, 1:3, 6:8] = [[1, 2], [3, 4]]
    settings = preset("ibsi-phantom").replace(families=("stat", "ih", "cm"))
    out = lesion_features((big, (2.0, 2.0, 2.0)), lab2, settings)
    assert [d["label"] for d in out] == [1, 3]
    assert out[1]["stat_mean"] == pytest.approx(2.5)
    alone = extract_features(big, lab2 == 1, (2.0, 2.0, 2.0), settings)
    assert out[0]["cm_contrast_3D_comb"] == pytest.approx(alone["cm_contrast_3D_comb"])


def test_discretisation_formulas():
    x = np.array([0.0, 0.5, 1.0, 2.49, 2.5, 10.0])
    q, ng = discretise(x, "fbn", bin_number=4)
    assert ng == 4 and q.tolist() == [1, 1, 1, 1, 2, 4]  # floor(4 (x-0)/10)+1, max in bin 4
    q, ng = discretise(x, "fbs", bin_width=2.5, lower_bound=0.0)
    assert q.tolist() == [1, 1, 1, 1, 2, 5] and ng == 5
    with pytest.raises(NenscopeError):
        discretise(np.array([0.5, 2.0]), "none")


def test_resegmentation_range_and_outliers():
    rng = np.random.default_rng(1)
    img = rng.normal(0, 1, (5, 20, 20))
    img[2, 10, 10] = 50.0
    mask = np.ones(img.shape, bool)
    m = resegment(img, mask, (-1.0, None))
    assert m.sum() == (img >= -1.0).sum()
    m = resegment(img, mask, None, 3.0)
    assert not m[2, 10, 10]
    mu, sd = img.mean(), img.std()
    assert m.sum() == ((img >= mu - 3 * sd) & (img <= mu + 3 * sd)).sum()


def test_interpolation_aligns_grid_centres_and_is_exact_for_linear_images():
    shape = (10, 12, 14)
    spacing = np.array([3.0, 1.5, 1.0])
    idx = np.indices(shape).astype(float)
    pos = idx * spacing[:, None, None, None]
    image = 2.0 * pos[0] - 1.0 * pos[1] + 0.5 * pos[2]
    mask = np.zeros(shape, bool)
    mask[3:7, 3:9, 4:10] = True
    img2, m2, new = interpolate(image, mask, spacing, (2.0, 2.0, 2.0), order=1)
    assert tuple(new) == (2.0, 2.0, 2.0)
    # new grid: ceil(n s / 2) points, centred on the old grid centre
    n_new = np.ceil(np.array(shape) * spacing / 2.0)
    centre_mm = 0.5 * (np.array(shape) - 1) * spacing
    first_mm = centre_mm - 0.5 * (n_new - 1) * 2.0
    # the evaluated block is a sub-grid: every value must equal the linear function there
    assert np.all(np.isfinite(img2)) and m2.any()
    grads = [np.diff(img2, axis=a).mean() for a in range(3)]
    assert grads == pytest.approx([2.0 * 2, -1.0 * 2, 0.5 * 2])
    assert first_mm[0] == pytest.approx(centre_mm[0] - 0.5 * (n_new[0] - 1) * 2.0)
    vol_before = mask.sum() * np.prod(spacing)
    assert m2.sum() * 8.0 == pytest.approx(vol_before, rel=0.15)


def test_presets_exist_and_load_from_yaml(tmp_path):
    assert {"ibsi-a", "ibsi-b", "ibsi-c", "ibsi-d", "ibsi-e", "ibsi-phantom"} <= set(preset_names())
    c = preset("ibsi-c")
    assert c.new_spacing_mm == (2.0, 2.0, 2.0) and c.discretisation == "fbs" and c.bin_width == 25
    assert preset("ibsi-e").interpolation_order == 3
    assert preset("ibsi-a").texture_spaces == ("2D", "2.5D")
    f = tmp_path / "s.yaml"
    f.write_text("discretisation: fbn\nbin_number: 16\ntexture_spaces: [3D]\n")
    s = load_settings(f)
    assert isinstance(s, RadiomicsSettings) and s.bin_number == 16 and s.name == "s"
    f.write_text("bin_numbr: 16\n")
    with pytest.raises(NenscopeError, match="unknown radiomics setting"):
        load_settings(f)
    with pytest.raises(NenscopeError):
        preset("ibsi-z")


def test_empty_mask_and_shape_mismatch_are_user_errors():
    img = np.ones((3, 4, 4))
    with pytest.raises(NenscopeError, match="empty"):
        extract_features(img, np.zeros_like(img), (1, 1, 1))
    with pytest.raises(NenscopeError, match="shape"):
        extract_features(img, np.ones((3, 4, 5)), (1, 1, 1))


def test_interpolated_preset_runs_on_a_blob():
    rng = np.random.default_rng(0)
    z, y, x = np.indices((12, 30, 30))
    r2 = ((z - 6) * 3.0) ** 2 + ((y - 15) * 1.2) ** 2 + ((x - 15) * 1.2) ** 2
    img = 500.0 * np.exp(-r2 / 200.0) - 200 + rng.normal(0, 20, z.shape)  # inside [-1000, 400] HU
    mask = r2 < 100
    for name in ("ibsi-b", "ibsi-c", "ibsi-d", "ibsi-e"):
        f = extract_features(img, mask, (3.0, 1.2, 1.2), name)
        # mesh volume of a sphere of radius 10 mm after resampling
        assert f["morph_volume"] == pytest.approx(4 / 3 * np.pi * 1000, rel=0.12)
        assert all(
            math.isfinite(v)
            for k, v in f.items()
            if not k.startswith(("morph_moran", "morph_geary"))
        )


def test_compact_grey_levels_give_the_same_texture_features():
    from nenscope.radiomics.glcm import glcm_feature_set
    from nenscope.radiomics.glrlm import glrlm_feature_set
    from nenscope.radiomics.zones import zone_feature_set

    rng = np.random.default_rng(4)
    values = np.array([1, 5, 9, 30])
    idx = rng.integers(0, 4, (6, 9, 9))
    q_raw = values[idx]
    mask = np.ones(q_raw.shape, bool)
    mask[:, 0, :] = False
    q_compact = idx + 1
    spaces = ("2D", "2.5D", "3D")
    pairs = [
        (
            glcm_feature_set(q_raw, mask, 30, spaces),
            glcm_feature_set(q_compact, mask, 4, spaces, levels=values, ng_nominal=30),
        ),
        (
            glrlm_feature_set(q_raw, mask, 30, spaces),
            glrlm_feature_set(q_compact, mask, 4, spaces, levels=values),
        ),
        (
            zone_feature_set(q_raw, mask, mask, 30, spaces),
            zone_feature_set(q_compact, mask, mask, 4, spaces, levels=values),
        ),
    ]
    for raw, compact in pairs:
        assert raw.keys() == compact.keys()
        for k in raw:
            assert compact[k] == pytest.approx(raw[k], rel=1e-10, abs=1e-12), k


def test_unsuitable_discretisation_is_a_user_error():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 40000, (20, 40, 40))  # e.g. Bq/ml with a bin width meant for SUV
    mask = np.zeros(img.shape, bool)
    mask[2:18, 5:35, 5:35] = True
    with pytest.raises(NenscopeError, match="grey levels"):
        extract_features(img, mask, (2, 2, 2), preset("pet-default").replace(families=("cm",)))


def test_moran_geary_by_fft_equal_the_pairwise_definition():
    from nenscope.radiomics.morphology import moran_geary

    rng = np.random.default_rng(8)
    img = rng.normal(size=(5, 7, 6)) + np.indices((5, 7, 6))[2] * 0.3
    mask = rng.random(img.shape) < 0.6
    spacing = np.array([3.0, 1.2, 0.8])
    pos = np.argwhere(mask) * spacing
    x = img[mask]
    d = np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1))
    w = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0.0)
    dev = x - x.mean()
    n = x.size
    moran = n / w.sum() * (w * dev[:, None] * dev[None]).sum() / (dev**2).sum()
    geary = (n - 1) / (2 * w.sum()) * (w * (x[:, None] - x[None]) ** 2).sum() / (dev**2).sum()
    assert moran_geary(img, mask, spacing) == pytest.approx((moran, geary), rel=1e-9)


def _skimage_mesh(mask, spacing):
    from skimage.measure import marching_cubes

    padded = np.pad(mask.astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(
        padded, level=0.5, spacing=tuple(spacing), allow_degenerate=True
    )
    return verts, faces


def test_diameter_without_hull_equals_hull_diameter_and_brute_force():
    from scipy.ndimage import binary_opening
    from scipy.spatial.distance import pdist

    from nenscope.radiomics.morphology import morphology_features

    rng = np.random.default_rng(11)
    for _ in range(5):
        mask = binary_opening(rng.random((12, 14, 13)) < 0.55)
        if mask.sum() < 5:
            continue
        img = rng.normal(size=mask.shape) + 5
        spacing = (2.5, 1.0, 1.3)
        full = morphology_features(img, mask, mask, spacing, extended=True)
        short = morphology_features(img, mask, mask, spacing, extended=False)
        verts, _ = _skimage_mesh(mask, spacing)
        brute = pdist(verts).max()
        assert full["morph_diam"] == pytest.approx(brute, rel=1e-12)
        assert short["morph_diam"] == pytest.approx(brute, rel=1e-12)
        assert "morph_vol_dens_conv_hull" in full and "morph_vol_dens_conv_hull" not in short


def test_mesh_tables_equal_the_full_marching_cubes_mesh():
    """Volume and area from per-cube configuration tables equal those of scikit-image's mesh
    (signed tetrahedra, triangle areas) on random masks full of ambiguous cubes."""
    from scipy.ndimage import binary_opening

    from nenscope.radiomics.morphology import mesh_volume_area

    rng = np.random.default_rng(5)
    for k in range(12):
        mask = rng.random((9, 11, 10)) < rng.uniform(0.3, 0.8)
        if k % 2:
            mask = binary_opening(mask)
        if not mask.any():
            continue
        spacing = tuple(rng.uniform(0.5, 3.0, 3))
        verts, faces = _skimage_mesh(mask, spacing)
        a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
        volume = abs(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0
        area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()
        assert mesh_volume_area(mask, spacing) == pytest.approx((volume, area), rel=1e-12)


def test_ivh_on_uniform_integers_matches_hand_count():
    from nenscope.radiomics.intensity import ivh_features

    x = np.arange(100.0)  # one voxel per integer 0..99
    f = ivh_features(x, "none")
    assert f["ivh_v10"] == pytest.approx(0.90)  # first level with γ >= 0.1 is 10: 90 voxels >= 10
    assert f["ivh_v90"] == pytest.approx(0.10)  # level 90 (γ = 90/99 >= 0.9)
    assert f["ivh_i10"] == 90 and f["ivh_i90"] == 10  # smallest i with ν(i) <= 0.1 / 0.9
    g = ivh_features(x, "none", value_range=(-100.0, 99.0))  # γ over the re-segmentation range
    assert g["ivh_v10"] == pytest.approx(1.0)  # γ >= 0.1 from -80 on: every voxel
    h = ivh_features(x, "fbs", bin_width=10.0, value_range=(0.0, 99.0))  # bin centres 5, 15, ...
    assert h["ivh_i10"] == pytest.approx(95.0) and h["ivh_v90"] == pytest.approx(0.1)


def test_degenerate_rois_give_nan_not_crashes():
    rng = np.random.default_rng(0)
    img = rng.uniform(1, 5, (8, 8, 8))
    one = np.zeros(img.shape, bool)
    one[4, 4, 4] = True
    f = extract_features(img, one, (2, 2, 2), "pet-default")
    assert f["stat_mean"] == pytest.approx(img[4, 4, 4])
    assert f["morph_vol_approx"] == pytest.approx(8.0)
    assert math.isnan(f["cm_contrast_3D_avg"])  # no voxel pairs: undefined, reported as NaN
    line = np.zeros(img.shape, bool)
    line[1:7, 4, 4] = True  # one voxel per slice: no in-plane neighbours
    g = extract_features(np.rint(img), line, (2, 2, 2), "ibsi-phantom")
    assert math.isnan(g["cm_contrast_2D_avg"]) and math.isfinite(g["cm_contrast_3D_avg"])
