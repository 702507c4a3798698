"""Issue 23's figures on virtual patient pairs with known changes (tests/followup_validation.py).

``NENSCOPE_FOLLOWUP_N`` pairs (default 20: pairs 0-9 and the check set 10-19 of
docs/followup.md); CI runs pairs 0 and 3 (tests/test_followup_validation.py). The targets:
>= 90 % of the lesions >= 10 mm present in both studies paired correctly, >= 90 % of the new
lesions found, the tumour-volume change within 15 percentage points of the truth in every
pair, the response category equal to the truth's in >= 90 % of the pairs. Run with
``PYTHONPATH=src:tests .venv/bin/python -m pytest -p no:cacheprovider -s
bench/validate_followup_test.py`` (25-60 s a pair).
"""

from __future__ import annotations

import os

import pytest

from followup_validation import run_pair, summarize, table

N_PAIRS = int(os.environ.get("NENSCOPE_FOLLOWUP_N", "20"))

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
