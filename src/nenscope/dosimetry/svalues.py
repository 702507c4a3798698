"""Organ S-values for 177Lu and organ-level (MIRD) absorbed doses.

Two tables ship in ``data/`` (origins in ``data/PROVENANCE.md``):

* OpenDose ICRP-110 adult male (AM) and female (AF) voxel phantoms, 177Lu, for the sources
  liver, spleen, left and right kidney (cortex+medulla+pelvis) to 169 targets, each row
  ``[target, S in mGy/(MBq·s), uncertainty, target mass in g]`` (Chauvin M et al., J Nucl Med
  2020;61:1514-1519; data from opendose.org as packaged in github dsarrut/rpt_dosi).
* OLINDA-style 177Lu matrices for the ICRP-89 adult male/female stylised phantoms (rows target,
  columns source, mGy/(MBq·s)) with ICRP-89 organ masses, from the PyTheranostics data folder
  (github qurit/PyTheranostics). Used for what OpenDose lacks here: red marrow, total body.

MIRD schema (Bolch WE et al., MIRD Pamphlet No. 21, J Nucl Med 2009;50:477-484):
D(target) = Σ_source Ã(source) · S(target ← source). The self-dose S is scaled to the
patient's organ mass by m_ref/m_patient (non-penetrating radiation, which carries ~95 % of the
177Lu self-dose; Stabin MG, J Nucl Med 2008;49:853-860 discusses the mass correction);
cross-doses are not scaled. A composite source (both kidneys) takes the mass-weighted mean of
its parts (activity assumed proportional to mass).
"""

from __future__ import annotations

import csv
import functools
import json
import re
from dataclasses import dataclass

from nenscope.dosimetry._data import OLINDA_DIR, OPENDOSE_DIR, load_toml
from nenscope.errors import NenscopeError

SECONDS_PER_HOUR = 3600.0


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-.,()+]", "", name.lower())


@functools.cache
def _organs() -> dict[str, dict]:
    return load_toml("organs.toml")


def organ_key(region_name: str) -> str | None:
    """Canonical organ key (``kidneys``, ``kidney_left``, ``spleen`` …) of a region name, or None.

    Names are matched case-insensitively without spaces, dashes and underscores against the
    aliases in ``data/organs.toml``; anything else is treated as a tumour/lesion.
    """
    n = _norm(region_name)
    for key, row in _organs().items():
        if n == _norm(key) or n in {_norm(a) for a in row["aliases"]}:
            return key
    return None


def region_kind(region_name: str) -> str:
    """``organ``, ``body``, ``marrow_voi`` (an L2–L4 red-marrow VOI) or ``tumour`` (any
    other name) for a region name (``data/organs.toml``)."""
    key = organ_key(region_name)
    return _organs()[key]["kind"] if key else "tumour"


def tissue_of(region_name: str) -> str:
    """Radiobiology tissue key (``kidney``, ``red_marrow``, ``default``) of a region name."""
    key = organ_key(region_name)
    return _organs()[key]["tissue"] if key else "default"


def _sex_code(sex: str) -> str:
    s = sex.strip().upper()[:1]
    if s not in ("M", "F"):
        raise NenscopeError(f"sex must be M or F, got {sex!r} (option --sex)")
    return s


@functools.cache
def _opendose(sex: str, source_file: str) -> dict[str, tuple[float, float, float]]:
    folder = "AM" if _sex_code(sex) == "M" else "AF"
    path = OPENDOSE_DIR / folder / f"{source_file}.json"
    rows = json.loads(path.read_text())
    return {r[0]: (float(r[1]), float(r[2]), float(r[3])) for r in rows}


@functools.cache
def _olinda(sex: str) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    code = _sex_code(sex)
    name = "Lu177-Male-Svalues.csv" if code == "M" else "Lu177-Female-Svalues.csv"
    table: dict[tuple[str, str], float] = {}
    with open(OLINDA_DIR / name, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        for row in reader:
            if not row or not row[0].strip():
                continue
            target = row[0].strip()
            for src, val in zip(header[1:], row[1:], strict=False):
                if val.strip():
                    table[(target, src)] = float(val)
    masses: dict[str, float] = {}
    with open(OLINDA_DIR / "human_phantom_masses.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            v = r["Male" if code == "M" else "Female"]
            if v:
                masses[r["Organ"].strip()] = float(v)
    return table, masses


# names of the OLINDA-style rows/columns in the ICRP-89 mass table
_OLINDA_MASS_NAME = {
    "Kidneys": "Kidneys",
    "Liver": "Liver",
    "Spleen": "Spleen",
    "Red Mar.": "Red Marrow",
    "Red Marrow": "Red Marrow",
    "Tot Body": "Body",
    "Total Body": "Body",
}


@dataclass(frozen=True)
class SValue:
    """S(target ← source) for the reference phantom, before mass scaling.

    s_mgy_per_mbq_s: mGy per MBq·s; target_mass_g/source_mass_g: phantom masses (g);
    table: which table it came from.
    """

    s_mgy_per_mbq_s: float
    target_mass_g: float
    source_mass_g: float
    table: str


def reference_s_value(target: str, source: str, sex: str) -> SValue | None:
    """Reference-phantom S-value between two organ keys (see :func:`organ_key`), or None.

    OpenDose ICRP-110 is used when it holds both organs; otherwise the OLINDA-style table.
    """
    orgs = _organs()
    t, s = orgs.get(target), orgs.get(source)
    if t is None or s is None:
        return None
    code = _sex_code(sex)
    if s["opendose_source"] and t["opendose_target"]:
        parts = []
        for f in s["opendose_source"]:
            rows = _opendose(code, f)
            # source mass = the row of the same organ as a target in its own file
            src_row = {
                "lu-177_left_kidney_c+m+p": "Left kidney C+M+P",
                "lu-177_right_kidney_c+m+p": "Right kidney C+M+P",
                "lu-177_liver": "Liver",
                "lu-177_spleen": "Spleen",
            }[f]
            parts.append(
                (rows[t["opendose_target"]][0], rows[src_row][2], rows[t["opendose_target"]][2])
            )
        m_src = sum(p[1] for p in parts)
        s_val = sum(p[0] * p[1] for p in parts) / m_src
        return SValue(s_val, parts[0][2], m_src, f"OpenDose ICRP-110 A{code}")
    if s["olinda_source"] and t["olinda_target"]:
        table, masses = _olinda(code)
        key = (t["olinda_target"], s["olinda_source"])
        if key not in table:
            return None
        return SValue(
            table[key],
            masses[_OLINDA_MASS_NAME[t["olinda_target"]]],
            masses[_OLINDA_MASS_NAME[s["olinda_source"]]],
            f"OLINDA-style ICRP-89 {'adult male' if code == 'M' else 'adult female'}",
        )
    return None


@dataclass(frozen=True)
class OrganDose:
    """Organ-level dose of one target region.

    dose_gy: total; self_gy: from its own activity (mass-scaled); cross_gy: from the other
    source regions; tables: the S-value tables used; mass_g: patient mass used for scaling
    (None: the phantom's).
    """

    region: str
    dose_gy: float
    self_gy: float
    cross_gy: float
    mass_g: float | None
    reference_mass_g: float
    tables: tuple[str, ...]


def organ_doses(
    tia_mbq_h: dict[str, float],
    *,
    sex: str,
    masses_g: dict[str, float | None] | None = None,
) -> dict[str, OrganDose]:
    """MIRD organ doses for every region that is a phantom organ.

    Args:
        tia_mbq_h: region name → time-integrated activity (MBq·h). Names are mapped with
            :func:`organ_key`; regions that are not organs (tumours) are skipped as targets
            and as sources (their cross-dose to organs is neglected).
        sex: ``M`` or ``F`` (ICRP-110 AM/AF, ICRP-89 adult male/female).
        masses_g: region name → patient organ mass (g) for the self-dose scaling.
    """
    masses_g = masses_g or {}
    keys = {name: organ_key(name) for name in tia_mbq_h}
    out: dict[str, OrganDose] = {}
    for target, tkey in keys.items():
        if tkey is None or _organs()[tkey]["kind"] == "body":
            continue
        self_gy = cross_gy = 0.0
        ref_mass = float("nan")
        tables = []
        for source, skey in keys.items():
            if skey is None or _organs()[skey]["kind"] == "body":
                continue  # tumours and the whole body are not organ sources here (see docs)
            if _overlaps(tkey, skey) and source != target:
                continue  # left kidney inside "kidneys": never count the same activity twice
            sv = reference_s_value(tkey, skey, sex)
            if sv is None:
                continue
            tables.append(sv.table)
            contrib_s = sv.s_mgy_per_mbq_s
            if source == target:
                ref_mass = sv.target_mass_g
                m = masses_g.get(target)
                if m:
                    contrib_s *= sv.target_mass_g / m
                self_gy += tia_mbq_h[source] * SECONDS_PER_HOUR * contrib_s / 1000.0
            else:
                cross_gy += tia_mbq_h[source] * SECONDS_PER_HOUR * contrib_s / 1000.0
        if not tables:
            continue
        out[target] = OrganDose(
            region=target,
            dose_gy=self_gy + cross_gy,
            self_gy=self_gy,
            cross_gy=cross_gy,
            mass_g=masses_g.get(target),
            reference_mass_g=ref_mass,
            tables=tuple(sorted(set(tables))),
        )
    return out


def _overlaps(a: str, b: str) -> bool:
    kid = {"kidneys", "kidney_left", "kidney_right"}
    return a != b and a in kid and b in kid and "kidneys" in (a, b)
