"""The simulator's truth for issue 15: lesions on the CT, glands that vary, image-based Krenning.

- each lesion is painted into the CT at its site's CT number (``lesion_types.toml``), so an
  SSTR-RADS 5 lesion (CT correlate) can exist;
- the small glands' SSTR uptake (adrenals, pituitary, uncinate process) is drawn per patient
  within the published range (``uptake.toml`` ``[gland_liver_ratio]``);
- every lesion of an SSTR PET study carries the image-based Krenning truth: its maximum on
  the noise-free blurred image against that image's liver and spleen means, with the same
  "about liver" band as the analysis's PET reading; the blood pool's image truth is read
  on the same image (PERCIST's cylinder on the thoracic aorta's axis).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import cached_simulation
from nenscope.analysis.rules import score_rules
from nenscope.simulation._data import load
from nenscope.simulation.phantom import organ_table
from nenscope.simulation.study import SimulationConfig

SMALL = dict(seed=11, n_lesions=3, voxel_mm=8.0)


@pytest.fixture(scope="module")
def sstr():
    return cached_simulation(SimulationConfig(tracer="68Ga-DOTATATE", **SMALL))


def test_krenning_band_is_the_analysis_band():
    assert (
        load("lesion_types")["krenning_image"]["about_liver_band"]
        == score_rules()["krenning"]["about_liver_band"]
    )


def test_lesions_are_painted_into_the_ct(sstr):
    ct = np.asarray(sstr.ct.array)
    organs = np.asarray(sstr.organs.array)
    tissue_hu = {row["label"]: float(row["hu"]) for row in organ_table()}
    table = load("lesion_types")["lesion_hu"]
    a = np.asarray(sstr.ct.affine)
    for les in sstr.lesions:
        assert les.hu == table[les.site]
        k = tuple(
            np.round(np.linalg.solve(a[:3, :3], np.subtract(les.center_mm, a[:3, 3]))).astype(int)
        )
        tissue = tissue_hu[int(organs[k])]
        # the centre voxel moved from the tissue's CT number most of the way to the lesion's
        # (8 mm voxels: partial volume with the tissue; CT noise ~12 HU)
        assert abs(float(ct[k]) - les.hu) <= 0.5 * abs(tissue - les.hu) + 40.0


def test_image_based_krenning_truth(sstr):
    band = load("lesion_types")["krenning_image"]["about_liver_band"]
    liver, spleen = 8.0, 24.0  # 68Ga-DOTATATE table (uptake.toml)
    for les in sstr.lesions:
        assert les.krenning_image in (1, 2, 3, 4)
        assert 0.0 <= les.krenning_boundary_distance < 10.0
        # the blurred maximum never exceeds the true uptake, and a small lesion loses some
        assert 0.0 < les.image_max_suv <= les.true_suv_mean * 1.01 + 1.0
        ratio = les.image_max_suv / liver
        if ratio > spleen / liver * 1.05:
            assert les.krenning_image == 4
        elif ratio < 1 - band - 0.05:
            assert les.krenning_image == 1


def test_gland_uptake_varies_within_the_published_range(sstr):
    ranges = load("uptake")["gland_liver_ratio"]
    liver = 8.0
    other = cached_simulation(
        SimulationConfig(tracer="68Ga-DOTATATE", seed=12, n_lesions=3, voxel_mm=8.0)
    )
    for key in ("adrenals", "pituitary", "uncinate_process"):
        lo, hi = ranges[key]
        assert lo * liver <= sstr.glands[key] <= hi * liver
        assert sstr.glands[key] != other.glands[key]  # one draw per patient
    organs = sstr.truth["organs"]
    assert organs["adrenal_left"]["true_suv_mean"] == pytest.approx(
        sstr.glands["adrenals"], abs=0.01
    )
    assert organs["uncinate_process"]["true_suv_mean"] == pytest.approx(
        sstr.glands["uncinate_process"], abs=0.01
    )


def test_fdg_study_has_no_gland_draw_and_no_krenning_truth():
    fdg = cached_simulation(SimulationConfig(tracer="18F-FDG", **SMALL))
    assert fdg.glands == {}
    assert all(les.krenning_image is None for les in fdg.lesions)


def test_blood_pool_image_truth(sstr):
    """The blood pool as PERCIST reads it on the noise-free image (1 cm cylinder on the
    thoracic aorta's axis): the 22 mm vessel's axis keeps 90-100 % of the blood's SUV under
    the scanner's blur (positron range, PSF, post-filter), the surroundings being cooler."""
    aorta = sstr.truth["organs"]["aorta"]
    assert 0.9 * aorta["true_suv_mean"] < aorta["image_suv_mean"] < aorta["true_suv_mean"]
    assert aorta["image_suv_mean"] == pytest.approx(sstr.image_blood_pool_suv, rel=1e-3)
