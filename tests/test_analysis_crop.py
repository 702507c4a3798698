"""The analysis on the body's box (issue 17): the same results as on the whole grid.

``analyze_volume`` crops every stage after the body mask to the body's box; these tests run
it with the box and with the whole grid (the box function replaced) and compare everything
it returns, and check the exact replacements of whole-grid filters (the percentile filter of
the local-background threshold, the blood pool's lesion distance).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from conftest import cached_simulation
from nenscope.analysis import AnalysisOptions, analyze_volume, volume
from nenscope.analysis._crop import CROP_MARGIN_MM, BodyBox, body_box
from nenscope.analysis.bloodpool import _LESION_MARGIN_MM, _near_lesions
from nenscope.analysis.thresholds import _local_background_threshold, _window_percentiles
from nenscope.simulation.study import SimulationConfig
from test_analysis_cohort import sim_to_study


def _whole_grid(body, spacing, masks=None) -> BodyBox:
    return BodyBox(tuple(slice(0, n) for n in body.shape), body.shape)


def _organ_masks(sim, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    lab = np.asarray(sim.organs.array)
    return {n: lab == i for i, n in sim.organ_names.items() if n in names}


@pytest.fixture(scope="module")
def sim():
    return cached_simulation(SimulationConfig(tracer="68Ga-DOTATATE", seed=7, n_lesions=6))


@pytest.fixture(scope="module")
def suv(sim):
    return sim_to_study(sim).suv("bw")


@pytest.mark.parametrize("with_masks", [False, True])
def test_box_gives_the_whole_grids_results(sim, suv, with_masks, monkeypatch):
    names = ("liver", "spleen", "kidney_left", "kidney_right", "pancreas", "bowel", "aorta")
    masks = _organ_masks(sim, names) if with_masks else None
    assert masks is None or len(masks) == len(names)
    args = dict(agent_class="sstr", ct=sim.ct, organ_masks=masks, options=AnalysisOptions())
    boxed = analyze_volume(suv, **args)
    with monkeypatch.context() as m:
        m.setattr(volume, "body_box", _whole_grid)
        whole = analyze_volume(suv, **args)
    assert len(whole.lesions) >= 3
    np.testing.assert_array_equal(boxed.labels, whole.labels)
    assert [les.to_dict() for les in boxed.lesions] == [les.to_dict() for les in whole.lesions]
    for a, b in zip(boxed.lesions, whole.lesions, strict=True):
        np.testing.assert_allclose(a.center_mm, b.center_mm, rtol=0, atol=1e-9)
    assert boxed.reference.to_dict() == whole.reference.to_dict()
    assert boxed.reference.masks.keys() == whole.reference.masks.keys()
    for name, mask in whole.reference.masks.items():
        np.testing.assert_array_equal(boxed.reference.masks[name], mask)
    assert boxed.reference.liver.voi_center_ijk == whole.reference.liver.voi_center_ijk
    np.testing.assert_array_equal(boxed.anchors.body_centroid_ijk, whole.anchors.body_centroid_ijk)
    assert boxed.anchors.liver_z_range_mm == whole.anchors.liver_z_range_mm
    assert (boxed.threshold_suv, boxed.method) == (whole.threshold_suv, whole.method)
    assert boxed.suppressed == whole.suppressed
    assert boxed.warnings == whole.warnings


def test_box_is_the_body_plus_the_margin_on_the_block_grid():
    shape = (100, 150, 300)
    spacing = (4.0, 4.0, 2.5)
    body = np.zeros(shape, bool)
    body[30:60, 40:90, 100:180] = True
    box = body_box(body, spacing)
    blocks = (2, 2, 3)  # 8 mm blocks of 4 mm and 2.5 mm voxels
    for s, lo, hi, sp, f, n in zip(
        box.slices, (30, 40, 100), (60, 90, 180), spacing, blocks, shape, strict=True
    ):
        margin = max(int(np.ceil(CROP_MARGIN_MM / sp)), 6 * f)
        assert s.start == max(0, (lo - margin) // f * f)
        assert s.start % f == 0 and s.start <= lo - min(margin, lo)
        assert s.stop == n or (s.stop % f == 0 and s.stop >= hi + margin)
    assert not box.is_full
    # an organ mask outside the body widens the box; an empty body gives the whole grid
    far = np.zeros_like(body)
    far[0, 0, 0] = True
    assert body_box(body, spacing, {"x": far}).offset.tolist() == [0, 0, 0]
    assert body_box(np.zeros_like(body), spacing).is_full


def test_box_crop_paste_and_affine():
    box = BodyBox((slice(2, 5), slice(0, 4), slice(6, 8)), (6, 4, 10))
    full = np.arange(240, dtype=np.float32).reshape(6, 4, 10)
    crop = box.crop(full)
    assert crop.shape == (3, 4, 2) and crop.flags.c_contiguous
    pasted = box.paste(crop)
    np.testing.assert_array_equal(pasted[box.slices], full[box.slices])
    assert pasted.sum() == full[box.slices].sum()
    assert box.max_outside(full) == 239.0
    affine = np.array([[0, 0, 4.0, -10], [0, 4.0, 0, 5], [2.5, 0, 0, 7], [0, 0, 0, 1]])
    ijk = np.array([1.0, 2.0, 1.0, 1.0])
    shifted = ijk + np.r_[box.offset, 0]
    np.testing.assert_allclose(box.affine(affine) @ ijk, affine @ shifted)


def test_window_percentiles_are_scipys_percentile_filter():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 6, (9, 7, 11)).astype(np.float32)  # many ties
    values[:, :3] = rng.random((9, 3, 11), dtype=np.float32)
    where = rng.random(values.shape) < 0.6
    fill = np.full(values.shape, -1.0, np.float32)
    got = _window_percentiles(values, 5, (50, 75), where=where, fill=fill)
    for p, g in zip((50, 75), got, strict=True):
        expected = ndimage.percentile_filter(values, p, size=5, mode="nearest")
        np.testing.assert_array_equal(g[where], expected[where])
        assert np.all(g[~where] == -1.0)


def test_local_background_threshold_is_the_percentile_filters():
    rng = np.random.default_rng(4)
    smooth = np.zeros((40, 30, 36), np.float32)  # air around a warm body with hot organs
    smooth[5:35, 5:25, 6:30] = rng.gamma(2.0, 0.4, (30, 20, 24)).astype(np.float32)
    smooth[12:20, 8:16, 10:20] += 6.0
    spacing = (4.0, 4.0, 2.5)
    kw = dict(sub_liver=5.4, cold_floor=1.5, cold_contrast=3.0)
    thr, organ = _local_background_threshold(smooth, spacing, (2.7, 3.6), 1.3, **kw)
    # the same from scipy's percentile filters on every block
    blocks = smooth.reshape(20, 2, 15, 2, 12, 3).mean(axis=(1, 3, 5), dtype=np.float32)
    p75 = ndimage.percentile_filter(blocks, 75, size=5, mode="nearest")
    p50 = ndimage.percentile_filter(blocks, 50, size=5, mode="nearest")
    low = np.clip(3.0 * p50, 1.5, 2.7)
    for top, got in ((3.6, thr), (5.4, organ)):
        expected = np.clip(np.maximum(1.3 * p75, low), low, top)
        expected = expected.repeat(2, 0).repeat(2, 1).repeat(3, 2)
        np.testing.assert_array_equal(got, expected)
    assert thr.min() == np.float32(1.5) and thr.max() == np.float32(3.6)


def test_near_lesions_is_the_whole_grids_distance():
    rng = np.random.default_rng(5)
    lesions = np.zeros((30, 40, 50), np.int32)
    lesions[tuple(rng.integers(0, [[30], [40], [50]], (3, 12)))] = 1
    box = np.zeros(lesions.shape, bool)
    box[10:18, 12:30, 20:35] = True
    spacing = (2.5, 4.0, 4.0)
    whole = ndimage.distance_transform_edt(lesions == 0, sampling=spacing) <= _LESION_MARGIN_MM
    np.testing.assert_array_equal(_near_lesions(lesions, box, spacing) & box, whole & box)
    assert (whole & box).any()
    assert not _near_lesions(np.zeros_like(lesions), box, spacing).any()


def test_analysis_warns_of_uptake_away_from_the_body(sim, suv):
    arr = np.asarray(suv.array, dtype=np.float32).copy()
    arr[0, 0, 0] = 1e3  # a source in a corner of the field of view, away from the patient
    va = analyze_volume(suv.with_array(arr), agent_class="sstr", ct=sim.ct)
    assert any(
        w.startswith("uptake more than 60 mm from the body (SUV up to 1000.0)") for w in va.warnings
    )
