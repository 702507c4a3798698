"""The FDG study's labels put on the SSTR grid (``Alignment.resample``, nearest neighbour):
label by label over the boxes they map to, the same values as resampling the whole grid."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import SimpleITK as sitk

from nenscope.analysis.matching import Alignment
from nenscope.imaging.registration import resample_with


def _volume(shape, spacing, origin) -> hd.Volume:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return hd.Volume(np.zeros(shape, np.float32), affine, "PATIENT")


def test_labels_resampled_box_by_box_equal_the_whole_grid():
    moving = _volume((70, 64, 60), (3.0, 4.0, 4.0), (-100.0, -120.0, -110.0))
    labels = np.zeros(moving.spatial_shape, np.int32)
    labels[10:18, 20:27, 15:22] = 1  # a lesion
    labels[14:20, 24:31, 19:25] = 2  # a neighbour whose box overlaps the first's
    labels[40:44, 5:9, 50:55] = 3
    labels[66:70, 60:64, 0:4] = 4  # at the grid's corner: maps partly outside the fixed grid
    labels[30, 30, 30] = 6  # a single voxel
    moving = moving.with_array(labels)
    fixed = _volume((60, 56, 56), (3.5, 4.2, 4.2), (-95.0, -118.0, -100.0))
    tx = sitk.Euler3DTransform()
    tx.SetCenter([0.0, 0.0, 0.0])
    tx.SetRotation(0.06, -0.04, 0.09)
    tx.SetTranslation([6.0, -4.0, 9.0])
    whole = np.asarray(resample_with(moving, fixed, tx, order=0).array)
    boxed = Alignment(method="rigid registration (CT)", transform=tx).resample(
        moving, fixed, order=0
    )
    assert boxed.dtype == labels.dtype and boxed.shape == fixed.spatial_shape
    assert np.array_equal(boxed, whole)
    assert set(np.unique(whole)) >= {0, 1, 2, 3, 6}  # the labels do land on the fixed grid


def test_values_other_than_labels_take_the_whole_grid():
    """Negative values (no labels): nearest neighbour over the whole grid, values kept."""
    moving = _volume((20, 20, 20), (4.0, 4.0, 4.0), (-40.0, -40.0, -40.0))
    values = np.zeros(moving.spatial_shape, np.int16)
    values[5:9, 5:9, 5:9] = -3
    values[12:15, 12:15, 12:15] = 7
    moving = moving.with_array(values)
    fixed = _volume((18, 18, 18), (4.0, 4.0, 4.0), (-36.0, -38.0, -40.0))
    tx = sitk.Euler3DTransform()
    tx.SetTranslation([2.0, -1.0, 3.0])
    out = Alignment(method="rigid registration (CT)", transform=tx).resample(moving, fixed, order=0)
    assert np.array_equal(out, np.asarray(resample_with(moving, fixed, tx, order=0).array))
    assert {-3, 7} <= set(np.unique(out))
