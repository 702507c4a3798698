"""What the clinic knows about the patient before PRRT (the inputs of the checklist)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from nenscope.errors import NenscopeError

# field -> (low, high, option) for the range check
_RANGES = {
    "ki67_percent": (0.0, 100.0, "--ki67"),
    "egfr_ml_min": (0.0, 250.0, "--egfr"),
    "haemoglobin_g_dl": (1.0, 25.0, "--haemoglobin"),
    "wbc_10e9_l": (0.0, 500.0, "--wbc"),
    "platelets_10e9_l": (0.0, 2000.0, "--platelets"),
    "bilirubin_x_uln": (0.0, 50.0, "--bilirubin-x-uln"),
    "albumin_g_dl": (0.5, 8.0, "--albumin"),
    "karnofsky": (0.0, 100.0, "--karnofsky"),
    "ecog": (0.0, 5.0, "--ecog"),
    "days_since_long_acting_ssa": (0.0, 36500.0, "--days-since-ssa"),
    "weight_kg": (20.0, 300.0, "--weight-kg"),
}


@dataclass(frozen=True)
class PatientData:
    """Patient data for the PRRT checklist; ``None`` means not known (item ``unknown``).

    Units are in the names: Ki-67 in %, eGFR in ml/min (per 1.73 m² or creatinine
    clearance), haemoglobin g/dl, white cells and platelets 10^9/l, total bilirubin as a
    multiple of the upper limit of normal, albumin g/dl, Karnofsky 0-100, ECOG 0-5, days since
    the last long-acting somatostatin analogue. ``risk_factors`` (e.g. hypertension,
    diabetes) select the 28 Gy kidney BED limit.
    """

    ki67_percent: float | None = None
    egfr_ml_min: float | None = None
    haemoglobin_g_dl: float | None = None
    wbc_10e9_l: float | None = None
    platelets_10e9_l: float | None = None
    bilirubin_x_uln: float | None = None
    albumin_g_dl: float | None = None
    karnofsky: float | None = None
    ecog: float | None = None
    days_since_long_acting_ssa: float | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    prior_therapies: tuple[str, ...] | None = None
    risk_factors: tuple[str, ...] = ()
    sex: str | None = None
    weight_kg: float | None = None

    def __post_init__(self) -> None:
        for name, (lo, hi, option) in _RANGES.items():
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and lo <= v <= hi):
                raise NenscopeError(f"{option} must be between {lo:g} and {hi:g}, got {v}")
        if self.sex is not None and self.sex.upper()[:1] not in ("M", "F"):
            raise NenscopeError(f"--sex must be M or F, got {self.sex!r}")

    def to_dict(self) -> dict:
        """JSON-ready copy (tuples as lists)."""
        out = asdict(self)
        for k in ("prior_therapies", "risk_factors"):
            out[k] = None if out[k] is None else list(out[k])
        return out
