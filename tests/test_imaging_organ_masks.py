"""--organ-masks from TotalSegmentator v2 and MOOSE 3 outputs, on files written in their formats.

TotalSegmentator writes one ``<class>.nii.gz`` per class of its ``total`` task (or, with
``--ml``, one multi-label file whose CaretExtension names the labels); MOOSE writes one
multi-label ``<prefix>_CT_<region>_<subject>.nii.gz`` per model (label ids of the model's
table). The files below are written with nibabel exactly so, on a CT grid finer than the
emission grid, and read back onto the emission grid.
"""

from __future__ import annotations

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest

from nenscope.errors import NenscopeError
from nenscope.imaging.organ_masks import read_organ_masks

# the emission grid: 4 mm voxels, LPS; the "CT" grid: 2 mm voxels over the same box
PET_AFFINE = np.array([[4.0, 0, 0, -40.0], [0, 4.0, 0, -40.0], [0, 0, 4.0, -40.0], [0, 0, 0, 1]])
REFERENCE = hd.Volume(np.zeros((20, 20, 20), np.float32), PET_AFFINE, "PATIENT")
CT_AFFINE_RAS = np.diag([-2.0, -2.0, 2.0, 1.0])  # RAS: x and y flipped from LPS
CT_AFFINE_RAS[:3, 3] = [40.0 - 1.0, 40.0 - 1.0, -40.0 - 1.0]


def _box(lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    """A block of the 40^3 CT grid (array indices i, j, k of the RAS file)."""
    a = np.zeros((40, 40, 40), np.uint8)
    a[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    return a


def _save(arr: np.ndarray, path, extension: str | None = None) -> None:
    img = nib.Nifti1Image(arr, CT_AFFINE_RAS)
    if extension is not None:
        img.header.extensions.append(nib.nifti1.Nifti1Extension(0, extension.encode("utf-8")))
    nib.save(img, str(path))


def _caret(labels: dict[int, str]) -> str:
    body = "".join(
        f'<Label Key="{k}" Red="1" Green="0" Blue="0" Alpha="1"><![CDATA[{v}]]></Label>\n'
        for k, v in labels.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?> <CaretExtension> <VolumeInformation Index="0">'
        f"<LabelTable>{body}</LabelTable></VolumeInformation></CaretExtension>"
    )


def test_totalsegmentator_folder(tmp_path):
    seg = tmp_path / "segmentations"
    seg.mkdir()
    _save(_box((4, 4, 4), (20, 20, 20)), seg / "liver.nii.gz")
    _save(_box((24, 24, 4), (36, 36, 12)), seg / "kidney_left.nii.gz")
    _save(_box((20, 30, 20), (24, 34, 24)), seg / "vertebrae_L1.nii.gz")
    _save(_box((30, 4, 30), (34, 8, 34)), seg / "rib_left_1.nii.gz")
    _save(np.zeros((40, 40, 40), np.uint8), seg / "prostate.nii.gz")  # absent organ: empty
    masks = read_organ_masks(tmp_path, REFERENCE)  # the folder above "segmentations" works
    assert set(masks) == {"liver", "kidney_left", "bone"}  # bones merged, empty left out
    liver = np.asarray(masks["liver"].array)
    assert liver.dtype == bool and liver.shape == (20, 20, 20)
    # 16^3 CT voxels of 2 mm = 8^3 emission voxels of 4 mm
    assert int(liver.sum()) == pytest.approx(8**3, rel=0.15)
    # RAS -> LPS: the block's centre, RAS (15, 15, -17) mm, is LPS (-15, -15, -17)
    lps = np.argwhere(liver).mean(axis=0) @ PET_AFFINE[:3, :3].T + PET_AFFINE[:3, 3]
    assert lps == pytest.approx([-15.0, -15.0, -17.0], abs=4.0)
    assert masks["bone"].array.sum() > masks["kidney_left"].array.sum() / 10


def test_totalsegmentator_multilabel_file_names_its_labels(tmp_path):
    arr = _box((4, 4, 4), (20, 20, 20)) * 5 + _box((24, 24, 4), (30, 30, 10)) * 21
    arr += _box((30, 30, 20), (34, 34, 24)) * 52
    _save(
        arr.astype(np.uint8),
        tmp_path / "total.nii.gz",
        _caret({5: "liver", 21: "urinary_bladder", 52: "aorta"}),
    )
    masks = read_organ_masks(tmp_path / "total.nii.gz", REFERENCE)
    assert set(masks) == {"liver", "urinary_bladder", "aorta"}


def test_moose_organs_file_renamed_to_the_analysis_vocabulary(tmp_path):
    out = tmp_path / "moosez-clin_ct_organs-2025-01-01" / "segmentations"
    out.mkdir(parents=True)
    arr = _box((4, 4, 4), (20, 20, 20)) * 8  # liver
    arr += _box((24, 24, 4), (30, 30, 10)) * 3  # bladder
    arr += _box((30, 4, 30), (32, 6, 32)) * 17 + _box((30, 8, 30), (32, 10, 32)) * 18  # thyroid
    arr += _box((4, 30, 30), (8, 34, 34)) * 7  # kidney_right
    _save(arr.astype(np.uint8), out / "clin_CT_organs_SUB01.nii.gz")
    masks = read_organ_masks(tmp_path, REFERENCE)
    assert set(masks) == {"liver", "urinary_bladder", "thyroid_gland", "kidney_right"}


def test_moose_label_outside_the_model_table_is_an_error(tmp_path):
    arr = _box((4, 4, 4), (10, 10, 10)) * 40  # clin_ct_organs has 19 classes
    _save(arr.astype(np.uint8), tmp_path / "clin_CT_organs_SUB01.nii.gz")
    with pytest.raises(NenscopeError, match="label 40"):
        read_organ_masks(tmp_path / "clin_CT_organs_SUB01.nii.gz", REFERENCE)


def test_a_plain_nifti_mask_is_named_after_its_file(tmp_path):
    # a plain mask file is placed on the emission grid exactly (never resampled): written on it
    mask = np.zeros((20, 20, 20), np.uint8)
    mask[2:10, 2:10, 2:10] = 1
    nib.save(
        nib.Nifti1Image(mask, np.diag([-1.0, -1.0, 1.0, 1.0]) @ PET_AFFINE),
        tmp_path / "Liver.nii.gz",
    )
    masks = read_organ_masks(tmp_path / "Liver.nii.gz", REFERENCE)
    assert set(masks) == {"liver"} and int(np.asarray(masks["liver"].array).sum()) == 8**3
    with pytest.raises(NenscopeError, match="does not exist"):
        read_organ_masks(tmp_path / "nothing", REFERENCE)
