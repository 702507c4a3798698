"""Lesion matching across two registered studies, on label maps drawn for each case."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nenscope.followup.changes import change_pct, corrected_volume_ml, lesion_entries, totals
from nenscope.followup.matching import Match, match_lesions

SHAPE = (40, 40, 40)  # 1 mm voxels; centres below are in voxel = mm units


def ball(labels: np.ndarray, centre, radius: float, value: int) -> None:
    zz, yy, xx = np.indices(labels.shape)
    d2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
    labels[d2 <= radius**2] = value


def centres(labels: np.ndarray) -> dict[int, np.ndarray]:
    return {
        int(i): np.argwhere(labels == i).mean(axis=0).astype(float)
        for i in np.unique(labels)
        if i > 0
    }


def run(prior: np.ndarray, current: np.ndarray, **kw) -> list[Match]:
    # identity registration: prior already on the current grid, same coordinates
    return match_lesions(current, prior, centres(prior), centres(current), **kw)


def test_one_to_one_new_and_disappeared():
    prior = np.zeros(SHAPE, np.int32)
    current = np.zeros(SHAPE, np.int32)
    ball(prior, (10, 10, 10), 4, 1)
    ball(current, (11, 10, 10), 5, 3)  # grown and shifted by 1 mm
    ball(prior, (30, 30, 30), 3, 2)  # gone
    ball(current, (30, 10, 30), 3, 1)  # new
    got = run(prior, current)
    assert Match("paired", (1,), (3,)) in got
    assert Match("new", (), (1,)) in got
    assert Match("disappeared", (2,), ()) in got
    assert len(got) == 3


def test_split_and_merged():
    prior = np.zeros(SHAPE, np.int32)
    current = np.zeros(SHAPE, np.int32)
    ball(prior, (20, 20, 12), 7, 5)
    ball(current, (20, 20, 7), 3, 1)
    ball(current, (20, 20, 17), 3, 2)
    assert run(prior, current) == [Match("split", (5,), (1, 2))]
    # the same pair read the other way round is a merge
    assert run(current, prior) == [Match("merged", (1, 2), (5,))]


def test_lesions_without_overlap_are_paired_by_distance_up_to_the_limit():
    prior = np.zeros(SHAPE, np.int32)
    current = np.zeros(SHAPE, np.int32)
    ball(prior, (10, 10, 10), 2, 1)
    ball(current, (10, 10, 20), 2, 1)  # 10 mm away, no overlap
    assert run(prior, current) == [Match("paired", (1,), (1,))]
    assert run(prior, current, max_distance_mm=8.0) == [
        Match("new", (), (1,)),
        Match("disappeared", (1,), ()),
    ]


def test_a_fragment_without_overlap_joins_the_nearby_lesion_as_a_split():
    prior = np.zeros(SHAPE, np.int32)
    current = np.zeros(SHAPE, np.int32)
    ball(prior, (20, 20, 8), 8, 1)
    ball(current, (20, 9, 22), 4, 1)  # 17.8 mm from the prior centre, no overlap
    ball(current, (20, 31, 22), 4, 2)
    radii = dict(prior_radii_mm={1: 10.0}, current_radii_mm={1: 4.0, 2: 4.0})
    # 17.8 mm <= 10 + 4 + 5 mm: one lesion apart by a residual misregistration, in two pieces
    assert run(prior, current, **radii) == [Match("split", (1,), (1, 2))]
    assert run(prior, current) == [
        Match("new", (), (1,)),
        Match("new", (), (2,)),
        Match("disappeared", (1,), ()),
    ]


def test_a_group_with_several_lesions_on_both_sides_is_cut_by_overlap():
    prior = np.zeros(SHAPE, np.int32)
    current = np.zeros(SHAPE, np.int32)
    ball(prior, (20, 20, 10), 6, 1)
    ball(prior, (20, 20, 24), 6, 2)
    ball(current, (20, 20, 11), 5, 1)  # prior 1
    ball(current, (20, 20, 17.4), 4.5, 2)  # overlaps both (17 % and 27 %), more prior 2
    ball(current, (20, 20, 28), 3, 3)  # a fragment of prior 2
    got = run(prior, current, min_overlap=0.15)
    assert len(got) == 2
    assert Match("paired", (1,), (1,)) in got
    assert Match("split", (2,), (2, 3)) in got


def test_entries_sum_the_fragments_and_take_the_highest_uptake():
    prior = {
        5: dict(
            id=5,
            center_mm=[0, 0, 0],
            volume_ml=4.0,
            suv_max=20.0,
            suv_peak=15.0,
            krenning=4,
            site="liver",
        )
    }
    current = {
        1: dict(
            id=1,
            center_mm=[-5, 0, 0],
            volume_ml=1.0,
            suv_max=12.0,
            suv_peak=9.0,
            krenning=3,
            site="liver",
        ),
        2: dict(
            id=2,
            center_mm=[5, 0, 0],
            volume_ml=3.0,
            suv_max=18.0,
            suv_peak=14.0,
            krenning=4,
            site="liver",
        ),
    }
    (e,) = lesion_entries([Match("split", (5,), (1, 2))], prior, current)
    assert e["current_id"] == [1, 2] and e["prior_id"] == 5
    assert e["volume_ml_current"] == pytest.approx(4.0) and e["volume_change_pct"] == 0.0
    assert e["suv_max_current"] == 18.0 and e["krenning_current"] == 4
    assert e["center_mm"] == [2.5, 0.0, 0.0]  # volume-weighted
    (gone,) = lesion_entries([Match("disappeared", (5,), ())], prior, current)
    assert gone["volume_change_pct"] == -100.0 and gone["center_mm"] == [0.0, 0.0, 0.0]
    assert gone["volume_ml_current"] is None and gone["current_id"] is None


def test_totals_and_change():
    def entry(status, before, after, confirmed=True):
        return dict(
            status=status,
            volume_pvc_ml_prior=before,
            volume_pvc_ml_current=after,
            confirmed=confirmed,
        )

    entries = [
        entry("paired", 10.0, 12.0),
        entry("new", None, 2.0),
        entry("new", None, 40.0, confirmed=False),  # the prior showed uptake there
        entry("disappeared", 4.0, None),
    ]
    t = totals(
        {"summary": {"sstr_tv_ml": 10.0, "tl_sstr": 100.0}},
        {"summary": {"sstr_tv_ml": 15.0, "tl_sstr": 50.0}},
        entries,
    )
    assert t["sstr_tv_change_pct"] == 50.0 and t["tl_sstr_change_pct"] == -50.0
    assert t["tumour_volume_pvc_ml_prior"] == 14.0 and t["tumour_volume_pvc_ml_current"] == 14.0
    assert t["n_new"] == 1 and t["n_unconfirmed"] == 1
    assert t["n_paired"] == 1 and t["n_disappeared"] == 1
    assert change_pct(0.0, 3.0) is None and change_pct(None, 3.0) is None


def test_corrected_volume_takes_the_fitted_sphere_within_its_limits():
    sphere_20mm = np.pi / 6.0 * 20.0**3 / 1000.0  # 4.19 ml
    assert corrected_volume_ml({"volume_ml": 2.5, "diameter_pvc_mm": 20.0}) == pytest.approx(
        sphere_20mm
    )
    # outside a factor 3 of the segmentation (collapsed or overshooting fits), above 40 mm,
    # no fit: the segmented volume
    assert corrected_volume_ml({"volume_ml": 1.3, "diameter_pvc_mm": 5.2}) == 1.3
    assert corrected_volume_ml({"volume_ml": 1.3, "diameter_pvc_mm": 20.0}) == 1.3
    assert corrected_volume_ml({"volume_ml": 40.0, "diameter_pvc_mm": 45.0}) == 40.0
    assert corrected_volume_ml({"volume_ml": 1.0, "diameter_pvc_mm": None}) == 1.0


def test_corrected_volume_of_a_low_contrast_lesion_is_at_most_twice_its_segmentation():
    # virtual pair 18's prior liver lesion: 16.4 mm (2.31 ml) true, segmented 1.73 ml, fitted
    # 20.3 mm (4.38 ml) at uptake 12.8 on a background of 7.8 (1.6 x): clamped to 3.46 ml
    les = {"volume_ml": 1.728, "diameter_pvc_mm": 20.3, "suv_pvc": 12.756, "background_suv": 7.783}
    assert corrected_volume_ml(les) == pytest.approx(3.456)
    # the same fit on a cold background (a lymph node at 5 x) is kept
    hot = les | {"background_suv": 2.5}
    assert corrected_volume_ml(hot) == pytest.approx(np.pi / 6.0 * 20.3**3 / 1000.0)
    # within 2 x the fit stands; beyond 3 x it is clamped too (not the segmented volume)
    assert corrected_volume_ml(les | {"volume_ml": 2.5}) == pytest.approx(4.38, abs=0.01)
    assert corrected_volume_ml(les | {"volume_ml": 1.3}) == pytest.approx(2.6)


@pytest.mark.parametrize("diameter_mm", [12.0, 16.0, 20.0, 28.0])
@pytest.mark.parametrize("ratio", [1.8, 2.5])
def test_a50_contour_of_a_low_contrast_sphere_holds_half_its_volume(diameter_mm, ratio):
    """The bound above: a uniform sphere blurred to 9.4 mm FWHM (the simulator's scanner) on
    4 mm voxels, delineated at background + 50 % of its contrast, keeps at least half its
    volume, so it is at most twice its segmented volume."""
    vox, sup, n = 4.0, 4, 24
    axis = (np.arange(n * sup) - n * sup / 2 + 0.5) * vox / sup
    r2 = axis[:, None, None] ** 2 + axis[None, :, None] ** 2 + axis[None, None, :] ** 2
    image = np.where(r2 <= (diameter_mm / 2) ** 2, ratio, 1.0)
    sigma_mm = 9.4 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    image = ndimage.gaussian_filter(image, sigma_mm / (vox / sup))
    image = image.reshape(n, sup, n, sup, n, sup).mean(axis=(1, 3, 5))
    seg_ml = float((image >= 1.0 + 0.5 * (image.max() - 1.0)).sum()) * vox**3 / 1000.0
    true_ml = np.pi / 6.0 * diameter_mm**3 / 1000.0
    assert seg_ml >= 0.5 * true_ml
