"""Issue 23's figures on virtual patient pairs with known changes (tests/followup_validation.py).

CI runs ``NENSCOPE_FOLLOWUP_N`` pairs (default 2); ``NENSCOPE_FOLLOWUP_N=10`` (or
``python tests/followup_validation.py 10``) runs the set reported in docs/followup.md. The
targets: >= 90 % of the lesions >= 10 mm present in both studies paired correctly, >= 90 % of
the new lesions found, the tumour-volume change within 15 % (percentage points) of the truth,
the response category equal to the truth's in >= 90 % of the pairs.
"""

from __future__ import annotations

import os

import pytest

from followup_validation import run_pair, summarize, table

N_PAIRS = int(os.environ.get("NENSCOPE_FOLLOWUP_N", "2"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scores():
    return [run_pair(k) for k in range(N_PAIRS)]


def test_issue_targets_on_virtual_pairs(scores):
    s = summarize(scores)
    print("\n" + table(scores) + f"\n{s}")
    assert s["lesions_pairable"] >= 4 and s["new_lesions"] >= 2
    assert s["paired_correctly"] >= 0.9
    assert s["new_found"] >= 0.9
    assert s["tv_within_15pp"] == 1.0
    assert s["response_agreement"] >= 0.9
