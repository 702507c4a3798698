"""Lesion sites from organ masks, the CT and position (nenscope.analysis.sites).

The position rules are anchored on the recognised kidneys (their mean position stands for
the spine) and the liver's top, in body-relative patient millimetres (+x left, +y posterior,
+z superior). The grid here is 2 mm isotropic, LPS, body centroid at the origin.
"""

from __future__ import annotations

import numpy as np
import pytest

from nenscope.analysis.physiology import ComponentInfo
from nenscope.analysis.sites import SiteContext, lesion_site, site_of_mask

N = 64  # 128 mm cube, but positions are given relative to the centroid and may lie outside
AFFINE = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1]])
KIDNEYS = [
    ComponentInfo(1, 150.0, -70.0, 60.0, -100.0, -150.0, -50.0, 14.0),
    ComponentInfo(2, 150.0, 70.0, 60.0, -90.0, -140.0, -40.0, 14.0),
]
LIVER_Z = (-120.0, 60.0)


def _context(masks=None, ct=None) -> SiteContext:
    return SiteContext(
        masks=masks or {},
        affine=AFFINE,
        body_centroid_ijk=np.zeros(3),
        liver_z_range_mm=LIVER_Z,
        kidneys=KIDNEYS,
        ct_hu=ct,
    )


def _lesion_at(ctx: SiteContext, xyz_mm) -> str:
    """Site of a 3-voxel lesion at body-relative ``xyz_mm`` (the context is shifted there)."""
    ctx.body_centroid_ijk = np.array([N / 2, N / 2, N / 2]) - np.asarray(xyz_mm) / 2.0
    lesion = np.zeros((N, N, N), bool)
    lesion[N // 2 - 1 : N // 2 + 2, N // 2 - 1 : N // 2 + 2, N // 2 - 1 : N // 2 + 2] = True
    box = tuple(slice(N // 2 - 4, N // 2 + 5) for _ in range(3))
    return lesion_site(ctx, lesion[box], box, 0.008)


@pytest.mark.parametrize(
    ("xyz", "site"),
    [
        ((-20.0, 20.0, -80.0), "pancreas head"),  # 40 mm in front of the kidneys, at their top
        ((20.0, 20.0, -70.0), "pancreas body"),
        ((80.0, 20.0, -60.0), "pancreas tail"),
        ((-50.0, 55.0, -40.0), "adrenal"),  # above-medial to the right kidney's upper pole
        ((10.0, 30.0, -160.0), "lymph node"),  # para-aortic, below the kidneys' centres
        ((0.0, -60.0, -200.0), "bowel/mesentery"),  # anterior abdomen
        ((0.0, 40.0, 120.0), "lymph node"),  # mediastinum, above the liver
        ((0.0, -20.0, 300.0), "thyroid"),  # neck, midline, anterior
        ((0.0, 0.0, 400.0), "brain/meninges"),  # skull
        ((-60.0, -80.0, 100.0), "breast"),  # anterior chest wall
    ],
)
def test_sites_by_position(xyz, site):
    assert _lesion_at(_context(), xyz) == site


def test_masks_and_ct_come_first():
    pancreas = np.zeros((N, N, N), bool)
    pancreas[20:44, 28:36, 28:36] = True  # 48 mm long along x
    ctx = _context(masks={"pancreas": pancreas})
    lesion = np.zeros((N, N, N), bool)
    lesion[40:43, 30:33, 30:33] = True  # the left end of the gland: tail
    box = (slice(36, 46), slice(26, 36), slice(26, 36))
    assert lesion_site(ctx, lesion[box], box, 0.008) == "pancreas tail"
    lung = np.full((N, N, N), -850.0, np.float32)
    lung[N // 2 - 1 : N // 2 + 2, N // 2 - 1 : N // 2 + 2, N // 2 - 1 : N // 2 + 2] = 30.0
    assert _lesion_at(_context(ct=lung), (20.0, 20.0, -70.0)) == "lung"  # CT before position
    bone = np.full((N, N, N), 500.0, np.float32)
    assert _lesion_at(_context(ct=bone), (20.0, 20.0, -70.0)) == "bone"


@pytest.mark.parametrize(
    ("name", "site"),
    [
        ("kidney_left", "kidney"),
        ("adrenal_gland_right", "adrenal"),
        ("lung_upper_lobe_left", "lung"),
        ("vertebrae_L1", "bone"),
        ("bone", "bone"),
        ("small_bowel", "bowel/mesentery"),
        ("thyroid_gland", "thyroid"),
        ("urinary_bladder", None),
        ("aorta", None),
    ],
)
def test_mask_names(name, site):
    assert site_of_mask(name) == site


def test_no_liver_no_position_rules():
    ctx = _context()
    ctx.liver_z_range_mm = None
    assert _lesion_at(ctx, (20.0, 20.0, -70.0)) == "other"
