"""The follow-up simulator: the prior is simulate_study's study, the changes are the truth's."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nenscope.errors import NenscopeError
from nenscope.simulation.followup import (
    FollowupConfig,
    _Motion,
    _prior_phantom,
    simulate_followup,
)
from nenscope.simulation.study import SimulationConfig, simulate_study

CONFIG = SimulationConfig(seed=7, n_lesions=5, tumour_type="G1", voxel_mm=8.0)
FOLLOWUP = FollowupConfig(
    seed=3,
    p_disappear=0.2,
    n_new=2,
    n_split=1,
    shift_mm=(6.0, -4.0, 16.0),
    rotation_deg=(0.0, 1.0, 3.0),
    breathing_mm=10.0,
    lesion_ct_contrast_hu=-40.0,
)


# the three tests of the simulated pair run on one worker (make test: --dist loadgroup),
# which simulates it once for them
on_the_pair = pytest.mark.xdist_group("followup_simulation_pair")


@pytest.fixture(scope="module")
def pair():
    return simulate_followup(CONFIG, FOLLOWUP)


@on_the_pair
def test_the_prior_is_simulate_study_bit_for_bit_but_for_the_lesion_ct_correlate(pair):
    ref = simulate_study(CONFIG)
    assert np.array_equal(np.asarray(pair.prior.emission.array), np.asarray(ref.emission.array))
    ct, ref_ct = np.asarray(pair.prior.ct.array), np.asarray(ref.ct.array)
    inside = np.asarray(ref.lesion_labels.array) > 0
    assert np.array_equal(ct[~inside & (ct == ref_ct)], ref_ct[~inside & (ct == ref_ct)])
    # -40 HU inside every lesion (partial-volume weighted at the border)
    assert np.allclose((ct - ref_ct)[inside].max(), -40.0 * 0.5, atol=20.0)
    assert (ct - ref_ct).min() == pytest.approx(-40.0, abs=1e-3)


@on_the_pair
def test_the_follow_up_is_a_new_session_of_the_same_patient(pair):
    p, c = pair.prior, pair.current
    assert c.uids["frame_of_reference"] != p.uids["frame_of_reference"]
    assert c.uids["study"] != p.uids["study"]
    assert c.injection_datetime - p.injection_datetime == timedelta(days=91)
    assert (c.weight_kg, c.injected_mbq, c.agent) == (p.weight_kg, p.injected_mbq, p.agent)


@on_the_pair
def test_truth_lists_every_fate_and_the_label_map_holds_the_current_lesions(pair):
    entries = pair.truth["lesions"]
    assert sum(e["status"] == "new" for e in entries) == 2
    assert sum(e["status"] == "split" for e in entries) == 1
    prior_ids = sorted(e["prior"]["id"] for e in entries if e["prior"])
    assert prior_ids == [les.id for les in pair.prior.lesions]
    current_ids = sorted(c["id"] for e in entries for c in e["current"])
    assert current_ids == sorted(les.id for les in pair.current.lesions)
    in_map = set(np.unique(np.asarray(pair.current.lesion_labels.array))) - {0}
    assert in_map == set(current_ids)
    for e in entries:
        if e["fate"] in ("grow", "shrink", "stable"):
            ratio = e["current"][0]["volume_ml"] / e["prior"]["volume_ml"]
            lo, hi = {"grow": (1.8, 3.0), "shrink": (0.2, 0.5), "stable": (0.9, 1.1)}[e["fate"]]
            assert lo * 0.99 <= ratio <= hi * 1.01, e
        if e["status"] == "new":
            assert e["current"][0]["sstr_expression"] in ("very_high", "high")


def test_motion_is_rigid_far_from_the_liver_and_adds_the_breathing_shift_inside_it():
    phantom = _prior_phantom(CONFIG, 8.0)
    motion = _Motion(phantom, FOLLOWUP)
    rot = Rotation.from_euler("xyz", FOLLOWUP.rotation_deg, degrees=True)

    def rigid(p):
        return rot.apply(np.asarray(p) - motion.centre) + motion.centre + FOLLOWUP.shift_mm

    head = np.array([0.0, 0.0, -100.0])  # brain: far from liver and spleen
    assert np.allclose(motion.forward(head)[0], rigid(head), atol=1e-6)
    liver = np.argwhere(phantom.labels == phantom.label_id("liver")).mean(axis=0)
    liver_mm = phantom.grid.affine[:3, :3] @ liver + phantom.grid.affine[:3, 3]
    moved = rigid(liver_mm - np.array([0.0, 0.0, FOLLOWUP.breathing_mm]))
    assert np.allclose(motion.forward(liver_mm)[0], moved, atol=1e-6)
    assert np.allclose(motion.inverse(motion.forward(liver_mm)), liver_mm, atol=1e-3)


def test_bad_configurations_are_refused():
    with pytest.raises(NenscopeError, match="sum to at most 1"):
        simulate_followup(CONFIG, FollowupConfig(p_disappear=0.6, p_grow=0.6))
    with pytest.raises(NenscopeError, match="patient phantom and PET"):
        simulate_followup(SimulationConfig(phantom="nema-iec"), FollowupConfig())
