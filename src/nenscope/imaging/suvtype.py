"""Stored SUV values (Units GML with SUV Type (0054,1006), or Units CM2ML) converted to SUVbw.

A series may store SUV already: Units GML with SUV Type BW, LBMJAMES128, LBMJANMA, IBW (or the
older LBM), or Units CM2ML (SUVbsa, cm²/ml). A stored SUV of type X is C·M_X/A, so
SUVbw = stored · W / M_X (M_X in g, or BSA in cm² for CM2ML). The body measures are those of
:mod:`nenscope.imaging.bodysize`; PatientSex O takes the mean of the male and female formulas
(the convention of the IBSI-SUV reference objects, oncoray.github.io/suv_computation).
"""

from __future__ import annotations

from collections.abc import Callable

from nenscope.imaging.bodysize import (
    bsa_dubois_m2,
    ibw_sugawara_kg,
    lbm_james_kg,
    lbm_janmahasatian_kg,
)
from nenscope.imaging.study import Patient

#: SUV Type (0054,1006) terms whose stored values can be converted, with the body measure.
_MEASURES: dict[str, Callable[[str, float, float], float | None]] = {
    "LBMJAMES128": lbm_james_kg,
    "LBM": lbm_james_kg,  # the older term: James' formula, the only LBM formula of its time
    "LBMJANMA": lbm_janmahasatian_kg,
    "IBW": lambda sex, _w, h: ibw_sugawara_kg(sex, h),
}
_SUV_TYPE = "SUV Type (0054,1006)"


def _sexed_measure(
    fn: Callable[[str, float, float], float | None], sex: str, w: float, h: float
) -> float | None:
    if sex in ("M", "F"):
        return fn(sex, w, h)
    male, female = fn("M", w, h), fn("F", w, h)
    return None if male is None or female is None else (male + female) / 2.0


def stored_suv_bw_factor(
    units: str,
    suv_type: str | None,
    patient: Patient,
    raw_sex: str | None,
    warnings: list[str],
    reasons: list[str],
) -> float | None:
    """SUVbw per stored value for Units GML/CM2ML, or ``None`` with the reason in ``reasons``.

    Args:
        units: ``"GML"`` or ``"CM2ML"``.
        suv_type: SUV Type (0054,1006) as written (``None`` when absent: BW for GML, BSA for
            CM2ML).
        patient: weight and height (after overrides).
        raw_sex: PatientSex (0010,0040) as written (``"O"`` is accepted here).
    """
    kind = (suv_type or ("BSA" if units == "CM2ML" else "BW")).upper()
    if units == "GML" and kind == "BW":
        return 1.0
    if (units == "CM2ML") != (kind == "BSA"):
        reasons.append(
            f"Units (0054,1001) {units} with {_SUV_TYPE} {kind}: inconsistent (SUVbsa is "
            "stored as CM2ML, the other kinds as GML); SUVbw cannot be derived"
        )
        return None
    if kind != "BSA" and kind not in _MEASURES:
        reasons.append(f"{_SUV_TYPE} = {kind!r} is not BW, LBMJAMES128, LBMJANMA, IBW or BSA")
        return None
    w, h = patient.weight_kg, patient.height_m
    if w is None or h is None:
        reasons.append(
            f"stored SUV ({units}, {_SUV_TYPE} {kind}) converts to SUVbw only with the patient "
            "weight and height: PatientWeight (0010,1030) / PatientSize (0010,1020), or "
            "--weight-kg / --height-cm"
        )
        return None
    if kind == "BSA":
        bsa = bsa_dubois_m2(w, h)
        warnings.append(f"Units CM2ML (SUVbsa): converted to SUVbw with BSA {bsa:.3f} m² (Du Bois)")
        return w / (10.0 * bsa)  # W[g] / BSA[cm²]
    sex = (raw_sex or "").strip().upper()[:1]
    if sex not in ("M", "F", "O"):
        reasons.append(
            f"stored SUV of {_SUV_TYPE} {kind} needs the sex: PatientSex (0010,0040) is "
            f"{'absent' if not sex else repr(raw_sex)}, not M, F or O"
        )
        return None
    measure = _sexed_measure(_MEASURES[kind], sex, w, h)
    if measure is None:
        reasons.append(f"the {kind} body measure is not positive for this weight and height")
        return None
    if kind == "LBM":
        warnings.append(f"{_SUV_TYPE} LBM read as James' lean body mass (LBMJAMES128)")
    if sex == "O":
        warnings.append(f"PatientSex O: the {kind} measure is the mean of the male and female ones")
    return w / measure
