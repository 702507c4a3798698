"""Body-size measures for SUV normalisation: lean body mass, body-surface area, ideal weight.

Coefficients and their sources are in ``data/body_size.toml`` (James 1976; Janmahasatian et
al. 2005; Du Bois & Du Bois 1916; Sugawara et al. 1999). Inputs: weight in kg, height in m, sex
``"M"``/``"F"``; outputs in kg (BSA in m²). Each function returns ``None`` when an input it
needs is missing or the result is not positive (James' formula turns negative for very high
W/H, a known flaw).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def _coef() -> dict[str, Any]:
    text = resources.files("nenscope.imaging").joinpath("data/body_size.toml").read_text("utf-8")
    return tomllib.loads(text)


def _sexed(table: str, sex: str | None) -> dict[str, float] | None:
    if sex not in ("M", "F"):
        return None
    return _coef()[table]["male" if sex == "M" else "female"]


def _ok(*values: float | None) -> bool:
    return all(v is not None and v > 0 for v in values)


def lbm_james_kg(sex: str | None, weight_kg: float | None, height_m: float | None) -> float | None:
    """Lean body mass (James): M 1.10·W − 128·(W/H)², F 1.07·W − 148·(W/H)², H in cm."""
    c = _sexed("lbm_james", sex)
    if c is None or not _ok(weight_kg, height_m):
        return None
    h_cm = height_m * 100.0
    out = c["a"] * weight_kg - c["b"] * (weight_kg / h_cm) ** 2
    return out if out > 0 else None


def lbm_janmahasatian_kg(
    sex: str | None, weight_kg: float | None, height_m: float | None
) -> float | None:
    """Lean body mass (Janmahasatian): M 9270·W/(6680 + 216·BMI), F 9270·W/(8780 + 244·BMI)."""
    c = _sexed("lbm_janmahasatian", sex)
    if c is None or not _ok(weight_kg, height_m):
        return None
    bmi = weight_kg / height_m**2
    return c["num"] * weight_kg / (c["c"] + c["d"] * bmi)


def bsa_dubois_m2(weight_kg: float | None, height_m: float | None) -> float | None:
    """Body-surface area in m² (Du Bois): 0.007184 · W^0.425 · H_cm^0.725."""
    if not _ok(weight_kg, height_m):
        return None
    c = _coef()["bsa_dubois"]
    return c["k"] * weight_kg ** c["a"] * (height_m * 100.0) ** c["b"]


def ibw_sugawara_kg(sex: str | None, height_m: float | None) -> float | None:
    """Ideal body weight of SUV-IBW (Sugawara 1999): M 48.0 + 1.06·(H_cm − 152),
    F 45.5 + 0.91·(H_cm − 152)."""
    c = _sexed("ibw_sugawara", sex)
    if c is None or not _ok(height_m):
        return None
    out = c["base"] + c["per_cm"] * (height_m * 100.0 - 152.0)
    return out if out > 0 else None
