"""``nenscope plan`` on paired simulated patients: predicted vs measured 177Lu doses.

For each seed, one virtual patient (``patient_variability``: its own kidney SSTR uptake and
177Lu half-lives, the same lesions) is imaged twice: a 68Ga-DOTATATE PET (the pre-therapy
scan) and the 177Lu-DOTATATE SPECT at 4, 24, 96, 168 h after a 7.4 GBq cycle. ``nenscope
plan --study`` predicts the kidney and lesion doses from the PET; ``nenscope dosimetry``
measures them on the SPECT (truth organ and lesion masks, GTM with the scanner's PSF; lesions
by the sphere model); the simulator's truth doses are reported beside them. The kidney SUVmean
of the PET is read in the truth kidney mask (a reader's VOI; the automatic PET kidney finder is
not used here). Reported: predicted vs measured kidney Gy/GBq (median and worst error)
with the shipped model (population mean) and with a site model fitted on the other patients
(leave-one-out, kidney SUVmean on the PET), and the same for the lesions seen on both.

Usage: ``python bench/validate_plan.py [N_PATIENTS] [OUT_DIR]`` (default 10, /tmp/plan_val);
about 3 minutes per patient on the 2-core VM.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from nenscope.cli import main as cli
from nenscope.dosimetry import svalues
from nenscope.dosimetry.sphere import sphere_dose_gy
from nenscope.plan.prediction import fit_model
from nenscope.simulation.output import write_study
from nenscope.simulation.spect import get_spect_scanner
from nenscope.simulation.study import SimulationConfig, simulate_study

SEED0 = 101
KIDNEYS = ("kidney_left", "kidney_right")


def _run(args: list[str]) -> None:
    code = cli(args)
    if code != 0:
        raise SystemExit(f"nenscope {' '.join(args[:1])} failed ({code})")


def _lesion_names(lu, out: Path) -> Path:
    """``label,name`` of the truth lesion label map."""
    names = out / "lesion_names.csv"
    names.write_text("label,name\n" + "".join(f"{x.id},lesion_{x.id}\n" for x in lu.lesions))
    return names


def _kidney_suv_on_pet(ga) -> float:
    """Kidney SUVmean of the 68Ga PET in the truth kidney mask (a reader's kidney VOI)."""
    lab = np.asarray(ga.organs.array)
    ids = [k for k, n in ga.organ_names.items() if n in KIDNEYS]
    img = np.asarray(ga.frames[0].volume.array, dtype=np.float64) * ga.suv_factor(0)
    return float(img[np.isin(lab, ids)].mean())


def _truth_doses(lu, kidney_masses_g: dict[str, float]) -> tuple[float, dict[int, float]]:
    """Truth kidney Gy/GBq (manifest TIAs, S-values at the measured masses) and lesion Gy/GBq
    (manifest TIA, sphere model at the true volume)."""
    organs = lu.truth["organs"]
    tia = {n: organs[n]["tia_mbq_h"] for n in KIDNEYS}
    od = svalues.organ_doses(tia, sex=lu.sex, masses_g=kidney_masses_g)
    mass = sum(kidney_masses_g.values())
    gbq = lu.injected_mbq / 1000.0
    kid = sum(od[n].dose_gy * kidney_masses_g[n] for n in KIDNEYS) / mass / gbq
    les = {
        x["id"]: sphere_dose_gy(x["tia_mbq_h"], x["volume_ml"]) / gbq for x in lu.truth["lesions"]
    }
    return kid, les


def one_patient(seed: int, out: Path) -> dict:
    """Plan from the 68Ga PET and dosimetry of the 177Lu SPECT of the patient of ``seed``."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = dict(seed=seed, n_lesions=5, patient_variability=True)
    ga = simulate_study(SimulationConfig(tracer="68Ga-DOTATATE", **cfg))
    ga_paths = write_study(ga, out / "ga")
    k_suv = _kidney_suv_on_pet(ga)
    plan_args = ["plan", "--study", str(ga_paths["emission_0"]), "--out", str(out / "plan")]
    _run([*plan_args, "--kidney-suv-mean", f"{k_suv:.4f}"])
    plan = json.loads((out / "plan" / "plan.json").read_text())
    lu = simulate_study(SimulationConfig(tracer="177Lu-DOTATATE", **cfg))
    lu_paths = write_study(lu, out / "lu")
    fwhm = float(get_spect_scanner("Lu-177").fwhm_mm(np.array([100.0]))[0])
    base = ["dosimetry", "--method", "organ", "--no-register", "--psf-fwhm-mm", f"{fwhm:.2f}"]
    for i in range(len(lu.frames)):
        base += ["--timepoint", str(lu_paths[f"emission_{i}"])]
    organs = [*base, "--masks", str(lu_paths["organs"]), "--label-names", str(lu_paths["manifest"])]
    for n in KIDNEYS:
        organs += ["--region", n]
    _run([*organs, "--out", str(out / "dos_organs")])
    measured = json.loads((out / "dos_organs" / "dosimetry.json").read_text())
    by = {r["name"]: r for r in measured["regions"]}
    mass = sum(by[n]["mass_g"] for n in KIDNEYS)
    kidney_gy_per_gbq = sum(by[n]["dose_gy_per_gbq"] * by[n]["mass_g"] for n in KIDNEYS) / mass
    kid_truth, les_truth = _truth_doses(lu, {n: by[n]["mass_g"] for n in KIDNEYS})
    lesions = []
    if lu.lesions:
        les = ["--masks", str(lu_paths["lesions"]), "--label-names", str(_lesion_names(lu, out))]
        _run([*base, *les, "--out", str(out / "dos_les")])
        les_doc = json.loads((out / "dos_les" / "dosimetry.json").read_text())
        lesions = _pair_lesions(plan, les_doc, lu, les_truth)
    return {
        "seed": seed,
        "variation": lu.truth["patient_variation"],
        "kidney_suv_pet": k_suv,
        "kidney_truth_gy_per_gbq": kid_truth,
        "kidney_predicted_gy_per_gbq": next(
            d["dose_gy_per_gbq"] for d in plan["predicted_doses"] if d["region"] == "kidneys"
        ),
        "kidney_measured_gy_per_gbq": kidney_gy_per_gbq,
        "lesions": lesions,
    }


def _pair_lesions(plan: dict, les_doc: dict, lu, truth: dict[int, float]) -> list[dict]:
    """Predicted lesions matched to the true lesions (centre within the true radius + 10 mm)."""
    found = [d for d in plan["predicted_doses"] if d["kind"] == "tumour"]
    measured = {r["name"]: r for r in les_doc["regions"]}
    out = []
    for les in lu.lesions:
        m = measured.get(f"lesion_{les.id}")
        best = None
        for d in found:
            c = np.asarray(d["center_mm"], dtype=float)
            dist = float(np.linalg.norm(c - np.asarray(les.center_mm)))
            if dist <= les.diameter_mm / 2 + 10.0 and (best is None or dist < best[0]):
                best = (dist, d)
        if m is not None and best is not None and m.get("dose_gy_per_gbq"):
            out.append(
                {
                    "id": les.id,
                    "diameter_mm": les.diameter_mm,
                    "sstr": les.sstr_expression,
                    "uptake_suv": best[1]["uptake_suv"],
                    "predicted_gy_per_gbq": best[1]["dose_gy_per_gbq"],
                    "measured_gy_per_gbq": m["dose_gy_per_gbq"],
                    "truth_gy_per_gbq": truth[les.id],
                }
            )
    return out


def _errors(pred: list[float], meas: list[float]) -> tuple[float, float]:
    e = [abs(p / m - 1.0) for p, m in zip(pred, meas, strict=True)]
    return statistics.median(e), max(e)


def summarise(rows: list[dict]) -> dict:
    """Median and worst relative error, shipped model and leave-one-out site model."""
    kp = [r["kidney_predicted_gy_per_gbq"] for r in rows]
    km = [r["kidney_measured_gy_per_gbq"] for r in rows]
    ks = [r["kidney_suv_pet"] for r in rows]
    loo = []
    for i in range(len(rows)):
        x = [s for j, s in enumerate(ks) if j != i]
        y = [m for j, m in enumerate(km) if j != i]
        slope, icpt, _ = fit_model(x, y)
        loo.append(icpt + slope * ks[i])
    les = [le for r in rows for le in r["lesions"]]
    kt = [r["kidney_truth_gy_per_gbq"] for r in rows]
    out = {
        "n_patients": len(rows),
        "kidney_shipped_vs_measured": _errors(kp, km),
        "kidney_site_loo_vs_measured": _errors(loo, km),
        "kidney_measured_vs_truth": _errors(km, kt),
        "kidney_measured_range": (min(km), max(km)),
    }
    if les:
        loo_les = []
        for r in rows:  # proportional model fitted on the other patients' lesions
            others = [x for o in rows if o is not r for x in o["lesions"]]
            slope, _, _ = fit_model(
                [x["uptake_suv"] for x in others],
                [x["measured_gy_per_gbq"] for x in others],
                through_origin=True,
            )
            loo_les += [slope * x["uptake_suv"] for x in r["lesions"]]
        out["lesion_site_loo_vs_measured"] = _errors(
            loo_les, [x["measured_gy_per_gbq"] for x in les]
        )
        pred = [x["predicted_gy_per_gbq"] for x in les]
        out["n_lesions"] = len(les)
        out["lesion_shipped_vs_measured"] = _errors(pred, [x["measured_gy_per_gbq"] for x in les])
        out["lesion_shipped_vs_truth"] = _errors(pred, [x["truth_gy_per_gbq"] for x in les])
        out["lesion_measured_vs_truth"] = _errors(
            [x["measured_gy_per_gbq"] for x in les], [x["truth_gy_per_gbq"] for x in les]
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the cohort (or, with ``--summary ROWS_JSON``, summarise an earlier run)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--summary"]:
        print(json.dumps(summarise(json.loads(Path(argv[1]).read_text())), indent=1))
        return
    n = int(argv[0]) if argv else 10
    root = Path(argv[1]) if len(argv) > 1 else Path(tempfile.gettempdir()) / "plan_val"
    rows = []
    for k in range(n):
        row = one_patient(SEED0 + k, root / f"p{k:02d}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    (root / "rows.json").write_text(json.dumps(rows, indent=1))
    print(json.dumps(summarise(rows), indent=1))


if __name__ == "__main__":
    main()
