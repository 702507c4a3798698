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
