"""Dosimetry inputs checked by meaning (issue 16): region activities, masses and the
administered activity within physical bounds, a warning when the kinetics fall back to a
simpler model, Latin-1 tables, and time points of one patient."""

from __future__ import annotations

import numpy as np
import pytest

from nenscope.dosimetry import dosimetry_from_tacs, read_tac_csv
from nenscope.dosimetry.pipeline import RegionTAC
from nenscope.dosimetry.timepoints import TimePoint, dosimetry_from_timepoints
from nenscope.errors import NenscopeError
from nenscope.imaging.identity import PatientIdentity

TIMES = [4.0, 24.0, 72.0, 168.0]
# a mono-exponential kidney TAC: 30 MBq at t = 0, effective half-life 50 h
KIDNEY = [30.0 * 2 ** (-t / 50.0) for t in TIMES]


@pytest.mark.parametrize(
    ("tac", "gbq", "message"),
    [
        (RegionTAC("kidney_left", TIMES, KIDNEY, -150.0), 7.4, "mass -150 g must be above 0"),
        (RegionTAC("kidney_left", TIMES, KIDNEY, 0.0), 7.4, "mass 0 g must be above 0"),
        (RegionTAC("kidney_left", TIMES, KIDNEY, 150.0), -7.4, "-7.4 GBq"),
        (RegionTAC("kidney_left", TIMES, KIDNEY, 150.0), 1e300, "at most 100 GBq"),
        (RegionTAC("kidney_left", TIMES, [1e300] * 4, 150.0), 7.4, "at most 100000 MBq"),
        (RegionTAC("kidney_left", TIMES, [*KIDNEY[:3], float("nan")], 150.0), 7.4, "finite"),
        (RegionTAC("kidney_left", [-1.0, *TIMES[1:]], KIDNEY, 150.0), 7.4, "after administration"),
    ],
)
def test_values_without_meaning_are_refused(tac, gbq, message):
    with pytest.raises(NenscopeError, match=message):
        dosimetry_from_tacs([tac], injected_gbq=gbq)


def test_kinetics_fallbacks_are_warnings_in_the_output():
    one = RegionTAC("kidney_left", TIMES[2:3], KIDNEY[2:3], 150.0)
    two = RegionTAC("kidney_right", TIMES[1:3], KIDNEY[1:3], 150.0)
    four = RegionTAC("spleen", TIMES, KIDNEY, 150.0)
    result = dosimetry_from_tacs([one, two, four], injected_gbq=7.4)
    text = " ".join(result.warnings)
    assert "kidney_left: one time point: single-time-point kinetics" in text
    assert "kidney_right: 2 time points are too few for a fitted curve: trapezoid" in text
    assert "spleen" not in text  # four points: a fitted curve, no warning
    models = {r.name: r.fit.model for r in result.regions}
    assert models == {
        "kidney_left": "single-time-point",
        "kidney_right": "trapezoid",
        "spleen": "mono-exp",
    }


def test_latin1_tac_table_is_read(tmp_path):
    path = tmp_path / "tac.csv"
    rows = ["region,time_h,activity_mbq,mass_g"]
    rows += [f"tumeur_foie_\xe9,{t},{a},20" for t, a in zip(TIMES, KIDNEY, strict=True)]
    path.write_bytes("\n".join(rows).encode("latin-1"))
    tacs = read_tac_csv(path)
    assert tacs[0].name == "tumeur_foie_é" and tacs[0].activity_mbq == pytest.approx(KIDNEY)


def _tp(time_h, patient_id):
    import highdicom as hd

    act = hd.Volume(np.full((4, 4, 4), 1e4, np.float32), np.eye(4), "PATIENT")
    ident = PatientIdentity(patient_id, None, None, "M", 80.0, f"1.{time_h}", f"tp {time_h} h")
    return TimePoint(act, time_h, label=f"tp{time_h}", identity=ident)


def test_time_points_of_another_patient_are_refused():
    masks = {"liver": np.ones((4, 4, 4), bool)}
    tps = [_tp(24.0, "A1"), _tp(72.0, "B2")]
    with pytest.raises(NenscopeError, match="'A1' vs 'B2'"):
        dosimetry_from_timepoints(tps, masks, method="organ", register=False)
    result = dosimetry_from_timepoints(
        tps, masks, method="organ", register=False, allow_mismatch=True
    )
    assert any("mismatch allowed" in w for w in result.warnings)
