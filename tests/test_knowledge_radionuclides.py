"""Radionuclide facts of ``nenscope.knowledge.radionuclides`` against the reference copies in
``tests/data/physics`` (PROVENANCE.md there) and DICOM PS3.16."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from nenscope.errors import NenscopeError
from nenscope.knowledge.radionuclides import (
    beta_plus_yield,
    mean_energy_per_decay_mev,
    nuclide_from_code,
    positron_range_kernel,
    positron_range_mean_mm,
    radionuclide_code,
)

DATA = Path(__file__).parent / "data" / "physics"

# DICOM PS3.16 CID 4020 "PET Radionuclide": the legacy SNOMED-RT code values of the SRT
# codes (as coded in DCMTK dcmsr/libsrc/cid4020.cc) and the radionuclide each names.
CID_4020_SRT = {
    "C-105A1": "C-11",
    "C-107A1": "N-13",
    "C-B1038": "O-15",
    "C-111A1": "F-18",
    "C-127A2": "Cu-64",
    "C-131A3": "Ga-68",
    "C-128A2": "Ge-68",
    "C-159A2": "Rb-82",
    "C-162A3": "Y-86",
    "C-168A4": "Zr-89",
    "C-114A5": "I-124",
}


def test_positron_ranges_and_yields_equal_the_reference_copies():
    with open(DATA / "positron_range_water.csv") as fh:
        ranges = {r["nuclide"]: r["Rmean_mm_water"] for r in csv.DictReader(fh)}
    for nuclide, value in ranges.items():
        assert positron_range_mean_mm(nuclide) == float(value)
    with open(DATA / "decay_summary_icrp107.csv") as fh:
        yields = {r["nuclide"]: float(r["beta_plus_yield_per_decay"]) for r in csv.DictReader(fh)}
    checked = [n for n, y in yields.items() if y > 0.1]
    assert {"F-18", "Ga-68", "Cu-64", "Zr-89"} <= set(checked)
    for nuclide in checked:
        assert beta_plus_yield(nuclide) == pytest.approx(yields[nuclide], rel=1e-4)


def test_radionuclides_without_positrons_are_refused():
    with pytest.raises(NenscopeError, match="not a positron emitter"):
        positron_range_mean_mm("Lu-177")
    with pytest.raises(NenscopeError, match="emits no positrons"):
        beta_plus_yield("In-111")


def test_lu177_energies_are_the_sums_over_the_icrp107_emission_lists():
    lists = json.loads(json.loads((DATA / "icrp107" / "Lu-177.json").read_text()))["emissions"]
    mev = {k: sum(e * y for e, y in v) for k, v in lists.items()}
    got = mean_energy_per_decay_mev("177Lu")
    for ours, theirs in [
        ("beta_minus", "beta-"),
        ("internal_conversion", "IE"),
        ("auger", "auger"),
        ("gamma", "gamma"),
        ("x_ray", "X"),
    ]:
        assert got[ours] == pytest.approx(mev[theirs], rel=5e-5), ours
    assert got["electrons"] == pytest.approx(mev["beta-"] + mev["IE"] + mev["auger"], rel=5e-5)


def test_positron_range_kernel_has_the_tabulated_mean_range():
    voxel_mm = 0.5
    k = positron_range_kernel(3.5, voxel_mm)
    assert k.sum() == pytest.approx(1.0, rel=1e-6)
    c = k.shape[0] // 2
    assert np.unravel_index(np.argmax(k), k.shape) == (c, c, c)
    # mean 3-D displacement of the histogram ~ the exponential's mean range (3.39 mm: the cut
    # at 4 mean ranges and the voxel grid move it by a few per cent; 3.0 mm would give 2.91)
    idx = np.indices(k.shape) - c
    r = np.sqrt((idx**2).sum(axis=0)) * voxel_mm
    assert float((r * k).sum()) == pytest.approx(3.5, rel=0.05)


@pytest.mark.parametrize(("code", "nuclide"), sorted(CID_4020_SRT.items()))
def test_dicom_srt_codes_of_cid_4020(code, nuclide):
    assert nuclide_from_code(code) == nuclide
    assert nuclide_from_code(code.lower()) == nuclide


@pytest.mark.parametrize(
    ("nuclide", "sct"),
    [("F-18", "77004003"), ("Ga-68", "35337001"), ("Lu-177", "447553000"), ("In-111", "56609000")],
)
def test_snomed_ct_codes_both_ways(nuclide, sct):
    code = radionuclide_code(nuclide)
    assert (code.value, code.scheme_designator) == (sct, "SCT")
    assert nuclide_from_code(sct) == nuclide


def test_unknown_codes():
    assert nuclide_from_code("C-999X9") is None
    assert nuclide_from_code("") is None
    with pytest.raises(NenscopeError, match="no SNOMED code"):
        radionuclide_code("Ac-225")
