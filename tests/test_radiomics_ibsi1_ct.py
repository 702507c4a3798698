"""IBSI-1 CT phantom: presets ``ibsi-a`` … ``ibsi-e`` against the consensus reference values of
configurations A–E (IBSI reference manual, arXiv:1612.07003, chapter 5), read as a user would
(NIfTI image and mask through ``nenscope.imaging`` and the Volume API)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nenscope.imaging import read_mask, read_nifti
from nenscope.radiomics import extract_volume_features, preset
from nenscope.radiomics.conformance import (
    check_conformance,
    read_reference_table,
    round_significant,
    within_tolerance,
)

DATA = Path(__file__).parent / "data" / "ibsi1"
# reference features with a consensus value per configuration (diagnostic rows excluded)
N_REFERENCE = {"A": 346, "B": 346, "C": 210, "D": 210, "E": 210}


@pytest.fixture(scope="module")
def ct_phantom():
    image = read_nifti(DATA / "ct_phantom" / "phantom.nii.gz")
    mask, _ = read_mask(DATA / "ct_phantom" / "mask.nii.gz", image)
    return image, np.asarray(mask.array) > 0


@pytest.mark.parametrize("config", sorted(N_REFERENCE))
def test_ct_phantom_configuration_within_tolerance(ct_phantom, config, capsys):
    image, mask = ct_phantom
    feats = extract_volume_features(image, mask, preset(f"ibsi-{config.lower()}"))
    reference = read_reference_table(
        DATA / "reference_values" / f"ibsi_1_reference_values_config_{config}.csv"
    )
    result = check_conformance(feats, reference)
    with capsys.disabled():
        print(
            f"\nIBSI-1 CT phantom, configuration {config}: {result.n_within}/{result.n_total} "
            f"features within tolerance"
        )
    assert result.n_total == N_REFERENCE[config]
    assert result.fraction >= 0.95
    assert result.failures == []


def test_reference_check_rounds_to_three_significant_digits():
    # ih_qcod of configuration A: 0.0454545... is 0.0455 to three digits (tolerance 0)
    assert within_tolerance(0.045454545, 0.0455, 0.0)
    assert not within_tolerance(0.04544, 0.0455, 0.0)
    assert within_tolerance(34306.25, 34300, 400) and not within_tolerance(34751.0, 34300, 400)
    assert round_significant(-1.6822e7) == -1.68e7 and round_significant(0.0) == 0.0
    assert not within_tolerance(math.nan, 1.0, 1.0)
