"""A kidney taken into the automatic liver mask (analysis/hiddenkidney.py) and the gland
pieces of split components (organs._judge_pieces), on the independent family and on a
synthetic volume with known geometry."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from independent_eval import score, voxel_for
from independent_phantom import make_patient
from nenscope.analysis import analyze
from nenscope.analysis.hiddenkidney import kidney_in_liver
from nenscope.analysis.physiology import component_table

SPACING = (4.0, 4.0, 4.0)
# array axes (z, y, x) -> LPS (x left, y posterior, z superior), origin at the array centre
AFFINE = np.array([[0, 0, 4.0, -200.0], [0, 4.0, 0, -160.0], [-4.0, 0, 0, 200.0], [0, 0, 0, 1.0]])
SHAPE = (100, 80, 100)


def _ellipsoid(c_mm, r_mm):
    z, y, x = np.indices(SHAPE, dtype=float)
    lps = (x * 4.0 - 200.0, y * 4.0 - 160.0, 200.0 - 4.0 * z)
    return sum(((a - c) / r) ** 2 for a, c, r in zip(lps, c_mm, r_mm, strict=True)) <= 1.0


def _volume(right_kidney_suv: float, right_sphere_mm: float | None):
    """Liver 10 on the right, kidneys 12 at the same level; the right kidney (or, with
    ``right_sphere_mm``, a sphere of that diameter in its place) lies inside the liver mask."""
    suv = np.full(SHAPE, 1.0, np.float32)
    liver = _ellipsoid((-70, 0, 40), (90, 75, 80))
    suv[liver] = 10.0
    left = _ellipsoid((75, 60, -40), (30, 25, 52))
    suv[left] = 12.0
    if right_sphere_mm is None:
        right = _ellipsoid((-75, 60, -30), (30, 25, 52))
    else:
        right = _ellipsoid((-75, 50, -20), (right_sphere_mm / 2,) * 3)
    suv[right] = right_kidney_suv
    smooth = ndimage.gaussian_filter(suv, 0.75)  # 7 mm FWHM, as a detection image
    liver_mask = liver | _ellipsoid((-75, 60, -30), (30, 25, 52))
    # the left kidney's component at the extrahepatic threshold (0.6 x the liver)
    labels = (ndimage.binary_dilation(left, iterations=3) & (smooth > 6.0)).astype(np.int32)
    return smooth, labels, liver_mask


def _search(smooth, labels, liver_mask):
    centre = (np.array(SHAPE, float) - 1) / 2
    kidneys = component_table(smooth, labels, AFFINE, centre)
    return kidney_in_liver(
        smooth, labels, kidneys, liver_mask, 10.0, (-40.0, 120.0), AFFINE, centre, SPACING, 1.3
    )


def test_the_partner_of_a_lone_kidney_is_found_in_the_liver_mask():
    smooth, labels, liver_mask = _volume(12.0, None)
    hidden = _search(smooth, labels, liver_mask)
    assert hidden is not None
    assert hidden.info.x_mm < -40 and hidden.info.y_mm > 30  # right, posterior
    assert abs(hidden.info.z_mm - (-30 - 2)) < 20  # at the right kidney's level
    # its part above the midway level (11) lies inside the kidney
    right = _ellipsoid((-75, 60, -30), (30, 25, 52))
    assert (hidden.region & ~right).sum() < 0.05 * hidden.region.sum()


@pytest.mark.parametrize(
    "suv, sphere_mm",
    [
        (10.5, None),  # the kidney's uptake is the liver's: no level tells them apart
        (30.0, 32.0),  # a metastasis hotter than a kidney in the kidney's place
        (12.0, 24.0),  # a focus smaller than a kidney
    ],
)
def test_no_kidney_where_the_partner_cannot_be_told_apart(suv, sphere_mm):
    smooth, labels, liver_mask = _volume(suv, sphere_mm)
    assert _search(smooth, labels, liver_mask) is None


def test_a_kidney_the_liver_mask_took_in_is_no_lesion():
    """Family seed 18 at 4.5 mm: kidneys at 1.2 x the liver, the right one in the automatic
    liver mask; its noise peaks, the adrenal gland at its upper pole and the pancreatic
    tail beside a NET were five "lesions" before."""
    p = make_patient(18, 4.5, voxel_for(18))
    s = score(p, analyze(p.study))
    assert all(s.detected)
    assert s.false_positives == 0


def test_an_adrenal_gland_fused_with_a_liver_metastasis_is_the_gland():
    """Family seed 12 at 4.5 mm: the right adrenal gland (2.1 x liver) touches a 21 mm liver
    metastasis; split off it, it was a "liver lesion"."""
    p = make_patient(12, 4.5, voxel_for(12))
    f = analyze(p.study)
    s = score(p, f)
    assert all(s.detected)
    assert s.false_positives == 0
    assert "adrenal gland (auto)" in f.summary.suppressed
