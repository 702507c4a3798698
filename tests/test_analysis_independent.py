"""The analysis on the independent phantom family (tests/independent_phantom.py): issue 15's
targets at three scanner resolutions, a few patients each (the full runs, 10 patients per
resolution, are in docs/analysis.md: ``python tests/independent_eval.py FWHM 10``).

The family shares nothing with the project's simulator (anatomy, organ table, scanner model,
noise) and its Krenning truth is read from its noise-free image. Targets: sensitivity >= 90 %
for lesions >= 10 mm, <= 1 false positive per patient, Krenning agreement >= 90 % where the
truth is > 15 % from a grade boundary, liver SUVmean within 5 %, blood pool (descending aorta)
within 10 %; the sites are named (pancreas, lung, lymph node ...).
"""

from __future__ import annotations

import pytest

from independent_eval import score, summary, voxel_for
from independent_phantom import make_patient
from nenscope.analysis import analyze

SEEDS = (0, 1)  # voxels 4 mm and 3 mm (independent_eval.VOXELS)


@pytest.mark.parametrize("fwhm_mm", [4.5, 6.5, 9.0])
def test_targets_on_the_independent_family(fwhm_mm):
    scores = []
    for seed in SEEDS:
        p = make_patient(seed, fwhm_mm, voxel_for(seed))
        scores.append(score(p, analyze(p.study)))
    s = summary(scores)
    print(f"\nindependent family, {fwhm_mm} mm FWHM: {s}")
    assert s["sensitivity"] >= 0.9
    assert s["fp_per_patient"] <= 1.0
    assert s["krenning_agreement"] >= 0.9 and s["n_krenning"] >= 6
    assert s["liver_error_max_abs"] <= 0.05
    assert s["blood_pool_error_max_abs"] <= 0.10
    assert s["sites_named"] >= 0.8
