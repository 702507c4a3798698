"""Red-marrow absorbed dose for 177Lu PRRT: image-based (L2–L4) and blood-based.

Both follow the EANM 2022 recommendations for 177Lu-labelled SSTR ligands (Sjögreen Gleisner K
et al., Eur J Nucl Med Mol Imaging 2022;49:1778-1809); facts in ``data/marrow.toml``.

* **Self-dose.** The red-marrow time-integrated activity Ã_RM comes either from the lumbar
  vertebrae L2–L4 on SPECT (Ã_RM = Ã_L2–L4 / f, f = 6.7 % of the red marrow in L2–L4) or from
  blood samples (Ã_RM = ã_blood · RMBLR · m_RM, ã_blood in MBq·h/ml, RMBLR = 1 for
  177Lu-DOTATATE, m_RM in g at 1 g/ml). D_self = Ã_RM · S(RM←RM) · m_ref / m_RM, with the
  patient's marrow mass m_RM the reference mass scaled by body weight.
* **Cross-dose from organs.** D = Σ_h Ã_h · S(RM←h) for the organ regions (kidneys, liver,
  spleen); tumours are counted in the remainder's subtraction but have no S-value to the
  marrow and are neglected as sources.
* **Cross-dose from the remainder of the body.** With a whole-body TIA, Ã_RB = Ã_WB − Ã_RM −
  Σ Ã_h, and the remainder S-value (MIRD; Cloutier RJ et al., J Nucl Med 1973;14:53-55)
  S(RM←RB) = [S(RM←TB)·M_TB − S(RM←RM)·M_RM − Σ_h S(RM←h)·M_h] / (M_TB − M_RM − Σ_h M_h)
  over the reference phantom's masses (OLINDA-style ICRP-89 table).

S-values: :mod:`nenscope.dosimetry.svalues` (OLINDA-style 177Lu matrices, ICRP-89 masses).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nenscope.dosimetry import kinetics, svalues
from nenscope.dosimetry._data import load_toml
from nenscope.errors import NenscopeError

SECONDS_PER_HOUR = 3600.0
_KIDNEY_PARTS = {"kidney_left", "kidney_right"}


@dataclass(frozen=True)
class MarrowDose:
    """Red-marrow dosimetry of one cycle.

    method: ``image (L2-L4)`` or ``blood``; tia_mbq_h: whole red-marrow TIA (MBq·h); mass_g:
    patient red-marrow mass; self_gy, cross_organs_gy, cross_remainder_gy (None without a
    whole-body TIA): the three contributions; dose_gy: their sum; notes: what was assumed.
    """

    method: str
    tia_mbq_h: float
    tia_std_mbq_h: float
    mass_g: float
    self_gy: float
    cross_organs_gy: float
    cross_remainder_gy: float | None
    notes: tuple[str, ...] = ()

    @property
    def dose_gy(self) -> float:
        """Total absorbed dose (Gy)."""
        return self.self_gy + self.cross_organs_gy + (self.cross_remainder_gy or 0.0)

    def to_dict(self) -> dict:
        """JSON row (keys with units, 6 significant digits)."""

        def sig(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(f"{v:.6g}")

        return {
            "method": self.method,
            "tia_mbq_h": sig(self.tia_mbq_h),
            "tia_std_mbq_h": sig(self.tia_std_mbq_h),
            "mass_g": sig(self.mass_g),
            "self_gy": sig(self.self_gy),
            "cross_organs_gy": sig(self.cross_organs_gy),
            "cross_remainder_gy": sig(self.cross_remainder_gy),
            "dose_gy": sig(self.dose_gy),
            "notes": list(self.notes),
        }


def _reference_masses_g(sex: str) -> dict[str, float]:
    """Reference-phantom masses (g) of the S-value table: red_marrow, body and the organs."""
    out = {}
    for key in ("red_marrow", "body", "kidneys", "liver", "spleen"):
        sv = svalues.reference_s_value("red_marrow", key, sex)
        if sv is None:
            raise NenscopeError(f"no red-marrow S-value from {key} for sex {sex}")
        out[key] = sv.source_mass_g
    return out


def red_marrow_mass_g(sex: str, weight_kg: float | None = None) -> float:
    """Patient red-marrow mass (g): the reference mass, scaled by weight / reference weight."""
    ref = _reference_masses_g(sex)
    if weight_kg is None:
        return ref["red_marrow"]
    if weight_kg <= 0:
        raise NenscopeError("patient weight must be > 0 kg (option --weight-kg)")
    return ref["red_marrow"] * weight_kg * 1000.0 / ref["body"]


def _s(source: str, sex: str) -> float:
    sv = svalues.reference_s_value("red_marrow", source, sex)
    return 0.0 if sv is None else sv.s_mgy_per_mbq_s


def _organ_tias(organ_tia_mbq_h: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Organ TIAs by OLINDA source key (kidney halves summed), and the tumours' total."""
    organs: dict[str, float] = {}
    tumours = 0.0
    for name, tia in organ_tia_mbq_h.items():
        key = svalues.organ_key(name)
        if key in _KIDNEY_PARTS:
            key = "kidneys"
        if key in ("kidneys", "liver", "spleen"):
            organs[key] = organs.get(key, 0.0) + float(tia)
        elif key is None:
            tumours += float(tia)
    return organs, tumours


def cross_dose_gy(
    organ_tia_mbq_h: Mapping[str, float],
    *,
    sex: str,
    marrow_tia_mbq_h: float,
    whole_body_tia_mbq_h: float | None = None,
) -> tuple[float, float | None]:
    """(cross-dose from the organs, cross-dose from the remainder of the body or None), Gy.

    ``organ_tia_mbq_h``: region name → TIA (MBq·h); organ names map to kidneys/liver/spleen,
    other names (tumours) are subtracted from the whole body but are not sources.
    """
    organs, tumours = _organ_tias(organ_tia_mbq_h)
    to_gy = SECONDS_PER_HOUR / 1000.0
    from_organs = sum(tia * _s(k, sex) for k, tia in organs.items()) * to_gy
    if whole_body_tia_mbq_h is None:
        return from_organs, None
    m = _reference_masses_g(sex)
    m_rb = m["body"] - m["red_marrow"] - sum(m[k] for k in organs)
    s_rb = (
        _s("body", sex) * m["body"]
        - _s("red_marrow", sex) * m["red_marrow"]
        - sum(_s(k, sex) * m[k] for k in organs)
    ) / m_rb
    tia_rb = whole_body_tia_mbq_h - marrow_tia_mbq_h - sum(organs.values()) - tumours
    if tia_rb < 0:
        raise NenscopeError(
            f"whole-body TIA {whole_body_tia_mbq_h:.0f} MBq·h is smaller than the organs, "
            "tumours and marrow inside it: check the whole-body time-activity data"
        )
    return from_organs, tia_rb * s_rb * to_gy


def _self_gy(tia_rm_mbq_h: float, mass_g: float, sex: str) -> float:
    ref = _reference_masses_g(sex)["red_marrow"]
    return tia_rm_mbq_h * SECONDS_PER_HOUR * _s("red_marrow", sex) * ref / mass_g / 1000.0


def image_based(
    l2_l4_fit: kinetics.KineticFit,
    *,
    sex: str,
    weight_kg: float | None = None,
    organ_tia_mbq_h: Mapping[str, float] | None = None,
    whole_body_tia_mbq_h: float | None = None,
    l2_l4_fraction: float | None = None,
    marrow_mass_g: float | None = None,
) -> MarrowDose:
    """Red-marrow dose from the L2–L4 VOI's kinetics (its TIA, recovery-corrected).

    Args:
        l2_l4_fit: fitted TAC of the L2–L4 red-marrow VOI (MBq).
        sex, weight_kg: patient (reference S-values; marrow mass scaled by weight).
        organ_tia_mbq_h: other regions' TIAs (cross-dose, remainder subtraction).
        whole_body_tia_mbq_h: whole-body TIA for the remainder cross-dose (None: omitted).
        l2_l4_fraction: fraction of the red marrow in the VOI (default 6.7 %, data file).
        marrow_mass_g: patient red-marrow mass (default: reference scaled by weight).
    """
    data = load_toml("marrow.toml")
    f = float(l2_l4_fraction or data["l2_l4"]["fraction_of_red_marrow"])
    if not 0 < f <= 1:
        raise NenscopeError(f"the L2-L4 fraction of the red marrow must be in (0, 1], got {f}")
    mass = float(marrow_mass_g or red_marrow_mass_g(sex, weight_kg))
    tia = l2_l4_fit.tia_mbq_h / f
    notes = [f"Ã_RM = Ã(L2-L4)/{f:g} ({data['l2_l4']['source'].split(' (')[0]})"]
    return _assemble(
        "image (L2-L4)",
        tia,
        l2_l4_fit.tia_std_mbq_h / f,
        mass,
        sex,
        notes,
        organ_tia_mbq_h,
        whole_body_tia_mbq_h,
    )


def blood_based(
    times_h: Sequence[float],
    blood_kbq_per_ml: Sequence[float],
    *,
    sex: str,
    weight_kg: float | None = None,
    organ_tia_mbq_h: Mapping[str, float] | None = None,
    whole_body_tia_mbq_h: float | None = None,
    rmblr: float | None = None,
    marrow_mass_g: float | None = None,
) -> MarrowDose:
    """Red-marrow dose from blood samples (activity concentration at sampling, kBq/ml).

    The blood curve is fitted like any TAC (AIC, :func:`kinetics.fit_best`; trapezoid if no
    model converges; one sample: single time point). Ã_RM = ã_blood · RMBLR · m_RM.
    """
    fit = _fit_blood(times_h, blood_kbq_per_ml)
    data = load_toml("marrow.toml")
    ratio = float(rmblr if rmblr is not None else data["rmblr"]["value"])
    mass = float(marrow_mass_g or red_marrow_mass_g(sex, weight_kg))
    per_ml = fit.tia_mbq_h / 1000.0  # kBq·h/ml -> MBq·h/ml
    tia = per_ml * ratio * mass
    std = fit.tia_std_mbq_h / 1000.0 * ratio * mass
    notes = [
        f"blood curve {fit.model}, ã_blood {per_ml:.4g} MBq·h/ml, RMBLR {ratio:g} "
        f"({data['rmblr']['source'].split(' (')[0]}), marrow {mass:.0f} g at 1 g/ml"
    ]
    return _assemble("blood", tia, std, mass, sex, notes, organ_tia_mbq_h, whole_body_tia_mbq_h)


def _assemble(method, tia, std, mass, sex, notes, organ_tia, wb_tia) -> MarrowDose:
    self_gy = _self_gy(tia, mass, sex)
    organs_gy, rb_gy = cross_dose_gy(
        organ_tia or {}, sex=sex, marrow_tia_mbq_h=tia, whole_body_tia_mbq_h=wb_tia
    )
    if rb_gy is None:
        notes.append("no whole-body TIA: the cross-dose from the remainder of the body is omitted")
    return MarrowDose(method, tia, std, mass, self_gy, organs_gy, rb_gy, tuple(notes))


def _fit_blood(times_h: Sequence[float], conc: Sequence[float]) -> kinetics.KineticFit:
    if len(times_h) != len(conc) or not times_h:
        raise NenscopeError("blood samples need as many concentrations as times (--blood-csv)")
    if len(times_h) == 1:
        return kinetics.tia_single_time_point(times_h[0], conc[0])
    try:
        return kinetics.fit_best(times_h, conc)
    except NenscopeError:
        return kinetics.tia_trapezoid(times_h, conc, tail="exp")


def read_blood_csv(path: str | Path) -> tuple[list[float], list[float]]:
    """Read ``time_h,activity_kbq_per_ml`` blood samples (activity at sampling, not decay-corrected)."""
    p = Path(path)
    if not p.is_file():
        raise NenscopeError(f"blood-sample table {p} not found (option --blood-csv)")
    times, conc = [], []
    with open(p, newline="") as fh:
        reader = csv.DictReader(fh)
        names = {f.strip() for f in (reader.fieldnames or [])}
        if not {"time_h", "activity_kbq_per_ml"} <= names:
            raise NenscopeError(f"{p}: header must be time_h,activity_kbq_per_ml, got {names}")
        for i, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                t, c = float(row["time_h"]), float(row["activity_kbq_per_ml"])
            except ValueError as exc:
                raise NenscopeError(f"{p} line {i}: {exc}") from exc
            if not (math.isfinite(t) and t > 0 and math.isfinite(c) and c > 0):
                raise NenscopeError(f"{p} line {i}: time and activity must be > 0")
            times.append(t)
            conc.append(c)
    if not times:
        raise NenscopeError(f"{p}: no blood samples")
    return times, conc
