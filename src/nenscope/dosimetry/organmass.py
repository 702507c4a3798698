"""Organ masses of the automatic regions against the ICRP reference, scaled to the patient.

The reference is the mass of the organ in the phantom of its S-values (ICRP-110 / ICRP 89
reference adult: left kidney 153 g, spleen 150 g, liver 1800 g for the male), scaled by body
weight / reference weight (73 kg male, 60 kg female). A delineated mass more than ±30 %
(``data/automasks.toml`` [mass_check]) away from it is flagged: the outline is suspect (or
the organ is), and the dose, which scales with 1/mass, with it.
"""

from __future__ import annotations

from nenscope.dosimetry import svalues
from nenscope.dosimetry._data import load_toml

_CHECKED = ("kidney_left", "kidney_right", "kidneys", "liver", "spleen")


def reference_mass_g(
    region: str, *, sex: str = "M", weight_kg: float | None = None
) -> float | None:
    """ICRP reference mass (g) of an organ region, scaled to ``weight_kg`` (None: unscaled)."""
    key = svalues.organ_key(region)
    if key not in _CHECKED:
        return None
    sv = svalues.reference_s_value(key, key, sex)
    if sv is None:
        return None
    if weight_kg is None:
        return sv.target_mass_g
    body = svalues.reference_s_value("red_marrow", "body", sex)
    return sv.target_mass_g * weight_kg * 1000.0 / body.source_mass_g


def mass_warning(
    region: str, mass_g: float | None, *, sex: str = "M", weight_kg: float | None = None
) -> str | None:
    """A warning when an organ region's mass is beyond the tolerance of its reference."""
    ref = reference_mass_g(region, sex=sex, weight_kg=weight_kg)
    if ref is None or not mass_g:
        return None
    tol = float(load_toml("automasks.toml")["mass_check"]["tolerance"])
    if abs(mass_g / ref - 1.0) <= tol:
        return None
    return (
        f"{region}: mass {mass_g:.0f} g is {mass_g / ref - 1.0:+.0%} from the reference "
        f"{ref:.0f} g (ICRP, scaled to the patient's weight): check the outline, the organ "
        "dose scales with 1/mass"
    )
