"""Outputs unchanged by refactoring: ``analyze`` (SSTR, SSTR + FDG, DICOM run) and
``dosimetry`` (organ masks, ``--auto-masks``) against values recorded before the move
(``tests/data/regression/golden.json``, to 1e-9 relative; see ``tests/regression.py``)."""

from __future__ import annotations

import json

import pytest

from regression import GOLDEN, cohort_signature, differences, dosimetry_signature, run_signature

pytestmark = [pytest.mark.xdist_group("regression"), pytest.mark.slow]


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text("utf-8"))


def _check(expected, actual):
    diffs = differences(expected, actual)
    assert not diffs, f"{len(diffs)} differences, first: " + "; ".join(diffs[:8])


@pytest.mark.parametrize(
    ("key", "seed", "tumour_type", "with_fdg"),
    [
        ("cohort_100_G1_fdg", 100, "G1", True),
        ("cohort_101_G2_fdg", 101, "G2", True),
        ("cohort_102_G3", 102, "G3", False),
    ],
)
def test_analyze_unchanged(golden, key, seed, tumour_type, with_fdg):
    _check(golden[key], cohort_signature(seed, tumour_type, with_fdg=with_fdg))


def test_run_analysis_unchanged(golden, tmp_path):
    _check(golden["run_seed11_dicom"], run_signature(tmp_path))


def test_dosimetry_unchanged(golden, tmp_path):
    _check(golden["dosimetry_seed5"], dosimetry_signature(tmp_path))


def test_differences_catches_a_change():
    assert differences({"a": [1.0, "x"]}, {"a": [1.0 + 1e-6, "x"]})
    assert not differences({"a": [1.0, "x"]}, {"a": [1.0 + 1e-12, "x"]})
