"""The real STS_001 FDG PET (TCIA Soft-tissue Sarcoma, tests/data/sts001_fdg) end to end.

Automatic FDG mode (no masks, no CT): the liver reference is found on the PET alone, and the
sarcoma is found with a Dice coefficient >= 0.5 against the RTSTRUCT ROI GTV_Mass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nenscope.analysis import analyze
from nenscope.imaging.loader import load_study
from nenscope.imaging.masks import read_mask

DATA = Path(__file__).parent / "data" / "sts001_fdg"


@pytest.fixture(scope="module")
def sts():
    study = load_study(DATA / "pet_dicom")
    suv = study.suv("bw")
    gtv, _ = read_mask(DATA / "rtstruct" / "1-1.dcm", suv, roi_names=["GTV_Mass"])
    return study, np.asarray(gtv.array) > 0, analyze(study)


def test_sts001_tumour_found_with_dice(sts):
    study, gtv, f = sts
    assert f.study["agent_class"] == "fdg"
    lab = np.asarray(f.labels.array)
    hit = np.unique(lab[gtv])
    hit = hit[hit > 0]
    assert hit.size >= 1
    found = np.isin(lab, hit)
    dice = 2.0 * (found & gtv).sum() / (found.sum() + gtv.sum())
    print(
        f"\nSTS_001 GTV_Mass Dice {dice:.3f} ({hit.size} lesion(s), {f.summary.n_lesions} in all)"
    )
    assert dice >= 0.5
    # one lesion: FDG does not split touching lesions (the watershed had cut the heterogeneous
    # sarcoma into 10 pieces)
    assert hit.size == 1
    # the tumour lesions carry the GTV's hottest voxel: SUVbw max 7.9-8.0 (MIRP reference)
    assert max(les.suv_max for les in f.lesions if les.label in set(hit.tolist())) == (
        pytest.approx(7.95, abs=0.06)
    )


def test_sts001_reference_and_physiology(sts):
    _, _, f = sts
    # FDG liver SUVmean of an adult: 1.5-3 (EANM guideline 2.0 ranges; DESIGN §5 ~2.5)
    assert 1.5 < f.reference.liver.suv_mean < 3.0
    assert f.reference.liver.center_mm[0] < 0  # patient's right
    # bladder urine is recognised, not reported as a lesion
    assert any("bladder" in s for s in f.summary.suppressed)
    assert all(les.suv_max < 30 for les in f.lesions)
