"""Predicted 177Lu-DOTATATE absorbed doses from the pre-therapy 68Ga-SSTR PET.

A linear model per region kind, D/A (Gy/GBq) = intercept + slope × uptake (the form of the
published linear absorbed-dose prediction from SUVmean, Cancers 2023;15:1134), coefficients
and their sources in ``data/prediction.toml``: tumours proportional to their (partial-volume
corrected) 68Ga SUVmean; kidneys, spleen and liver at their population means, since the 68Ga
kidney uptake did not predict the 177Lu kidney dose (EJNMMI Res 2022,
doi:10.1186/s13550-022-00947-2). A site may fit its own coefficients from paired data with
:func:`fit_model` and pass them as a file of the same layout.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.plan._data import load

ORGANS = ("kidneys", "spleen", "liver")


@dataclass(frozen=True)
class RegionModel:
    """D/A = intercept + slope × uptake (Gy/GBq), with the residual SD and the source."""

    region: str
    slope_gy_per_gbq: float
    intercept_gy_per_gbq: float
    sd_gy_per_gbq: float
    source: str

    def predict(self, uptake_suv: float | None) -> float:
        """Dose per GBq for ``uptake_suv`` (needed only when the slope is not 0)."""
        if self.slope_gy_per_gbq == 0.0:
            return self.intercept_gy_per_gbq
        if uptake_suv is None:
            raise NenscopeError(
                f"the {self.region} model uses the 68Ga uptake, which is not known: "
                f"give --{self.region.rstrip('s')}-suv-mean or analyse the PET study"
            )
        return self.intercept_gy_per_gbq + self.slope_gy_per_gbq * uptake_suv


def load_model(path: str | Path | None = None) -> dict[str, RegionModel]:
    """The prediction model: the shipped one, or a site's file of the same layout."""
    if path is None:
        data = load("prediction")
    else:
        p = Path(path)
        if not p.is_file():
            raise NenscopeError(f"prediction model {p} not found (option --prediction-model)")
        try:
            data = tomllib.loads(p.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise NenscopeError(f"{p}: not a valid TOML prediction model ({exc})") from exc
    try:
        return {
            name: RegionModel(
                name,
                float(row["slope_gy_per_gbq"]),
                float(row["intercept_gy_per_gbq"]),
                float(row["sd_gy_per_gbq"]),
                str(row["source"]),
            )
            for name, row in data["region"].items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise NenscopeError(
            f"prediction model: each [region.X] needs slope, intercept, sd, source ({exc})"
        ) from exc


@dataclass(frozen=True)
class PredictedDose:
    """A predicted absorbed dose: per GBq, per cycle and its 1-SD (the model's residual)."""

    region: str
    kind: str  # organ | tumour
    uptake_suv: float | None
    dose_gy_per_gbq: float
    sd_gy_per_gbq: float
    activity_gbq: float
    volume_ml: float | None = None
    center_mm: tuple[float, float, float] | None = None

    @property
    def dose_gy(self) -> float:
        """Predicted absorbed dose of one cycle (Gy)."""
        return self.dose_gy_per_gbq * self.activity_gbq

    def to_dict(self) -> dict[str, Any]:
        """JSON row."""
        return {
            "region": self.region,
            "kind": self.kind,
            "uptake_suv": self.uptake_suv,
            "volume_ml": self.volume_ml,
            "center_mm": None if self.center_mm is None else list(self.center_mm),
            "dose_gy_per_gbq": self.dose_gy_per_gbq,
            "sd_gy_per_gbq": self.sd_gy_per_gbq,
            "activity_gbq": self.activity_gbq,
            "dose_gy": self.dose_gy,
        }


def lesion_uptake_suv(lesion: Mapping[str, Any]) -> float | None:
    """A lesion's uptake for the model: its partial-volume corrected SUV, else its SUVmean."""
    for key in ("suv_pvc", "suv_mean"):
        v = lesion.get(key)
        if v is not None and math.isfinite(float(v)):
            return float(v)
    return None


def predict(
    organ_suv: Mapping[str, float | None],
    lesions: Sequence[Mapping[str, Any]],
    model: Mapping[str, RegionModel],
    activity_gbq: float,
) -> list[PredictedDose]:
    """Predicted doses of the organs in ``model`` and of every lesion (``lesion_<id>``)."""
    out = []
    for name in ORGANS:
        if name in model:
            m = model[name]
            suv = organ_suv.get(name)
            out.append(
                PredictedDose(name, "organ", suv, m.predict(suv), m.sd_gy_per_gbq, activity_gbq)
            )
    tm = model.get("tumour")
    for les in lesions if tm is not None else []:
        suv = lesion_uptake_suv(les)
        if suv is None:
            continue
        out.append(
            PredictedDose(
                f"lesion_{les['id']}",
                "tumour",
                suv,
                tm.predict(suv),
                tm.sd_gy_per_gbq,
                activity_gbq,
                les.get("volume_ml"),
                None if les.get("center_mm") is None else tuple(les["center_mm"]),
            )
        )
    return out


def fit_model(
    uptake_suv: Sequence[float], dose_gy_per_gbq: Sequence[float], *, through_origin: bool = False
) -> tuple[float, float, float]:
    """Least-squares (slope, intercept, residual SD) of paired 68Ga uptake and 177Lu dose/GBq.

    ``through_origin`` fits D/A = slope × uptake (a proportional model, as for tumours).
    """
    x = np.asarray(uptake_suv, dtype=float)
    y = np.asarray(dose_gy_per_gbq, dtype=float)
    k = 1 if through_origin else 2
    if x.size != y.size or x.size <= k:
        raise NenscopeError(f"fitting the prediction model needs more than {k} paired values")
    if through_origin:
        slope, intercept = float(x @ y / (x @ x)), 0.0
    else:
        slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
    resid = y - (intercept + slope * x)
    return slope, intercept, float(np.sqrt(resid @ resid / (x.size - k)))
