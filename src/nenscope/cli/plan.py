"""``nenscope plan``: PRRT plan from a pre-therapy SSTR PET analysis and the patient's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, print_json
from nenscope.errors import NenscopeError

_STYLE = {"met": "green", "not met": "bold red", "unknown": "yellow"}


def _table(plan) -> None:
    t = Table(title=f"PRRT checklist ({plan.agent}): {plan.status}")
    for col in ("criterion", "value", "status"):
        t.add_column(col)
    for item in plan.checklist:
        st = f"[{_STYLE[item.status]}]{item.status}[/]"
        t.add_row(item.label, item.value or "—", st)
    console.print(t)
    p = Table(title="Predicted absorbed dose per cycle")
    for col in ("region", "68Ga SUV", "Gy/GBq", "± SD", "Gy/cycle"):
        p.add_column(col, justify="left" if col == "region" else "right")
    for d in plan.predictions:
        suv = "—" if d.uptake_suv is None else f"{d.uptake_suv:.2f}"
        p.add_row(
            d.region, suv, f"{d.dose_gy_per_gbq:.3f}", f"{d.sd_gy_per_gbq:.3f}", f"{d.dose_gy:.2f}"
        )
    console.print(p)
    k = plan.kidney_projection
    if k:
        console.print(
            f"kidneys over {len(k['planned_gbq'])} cycles: {k['cumulative_dose_gy']:.1f} Gy, "
            f"BED {k['cumulative_bed_gy']:.1f} Gy; at most {k['max_activity_gbq_per_cycle']:.1f} "
            f"GBq per cycle ({k['limiting']})"
        )
    for w in plan.warnings:
        console.print(f"[bold red]warning:[/] {w}")


@app.command()
def plan(
    findings: Annotated[
        Path | None, typer.Option("--findings", help="findings.json of the SSTR PET analysis.")
    ] = None,
    study: Annotated[
        Path | None, typer.Option("--study", help="SSTR PET study folder (analysed here).")
    ] = None,
    ki67: Annotated[float | None, typer.Option("--ki67", help="Ki-67 index, %.")] = None,
    egfr: Annotated[
        float | None, typer.Option("--egfr", help="eGFR or creatinine clearance, ml/min.")
    ] = None,
    haemoglobin: Annotated[
        float | None, typer.Option("--haemoglobin", help="Haemoglobin, g/dl.")
    ] = None,
    wbc: Annotated[float | None, typer.Option("--wbc", help="White blood cells, 10^9/l.")] = None,
    platelets: Annotated[
        float | None, typer.Option("--platelets", help="Platelets, 10^9/l.")
    ] = None,
    bilirubin_x_uln: Annotated[
        float | None,
        typer.Option("--bilirubin-x-uln", help="Total bilirubin / upper limit of normal."),
    ] = None,
    albumin: Annotated[float | None, typer.Option("--albumin", help="Albumin, g/dl.")] = None,
    karnofsky: Annotated[
        float | None, typer.Option("--karnofsky", help="Karnofsky performance status, 0-100.")
    ] = None,
    ecog: Annotated[float | None, typer.Option("--ecog", help="ECOG performance status.")] = None,
    days_since_ssa: Annotated[
        float | None,
        typer.Option(
            "--days-since-ssa", help="Days since the last long-acting somatostatin analogue."
        ),
    ] = None,
    pregnant: Annotated[
        bool | None, typer.Option("--pregnant/--not-pregnant", help="Pregnancy (test result).")
    ] = None,
    breastfeeding: Annotated[
        bool | None, typer.Option("--breastfeeding/--not-breastfeeding", help="Breast-feeding.")
    ] = None,
    prior_therapy: Annotated[
        list[str] | None,
        typer.Option("--prior-therapy", help="A prior therapy (repeat; 'none' if none)."),
    ] = None,
    risk_factor: Annotated[
        list[str] | None,
        typer.Option("--risk-factor", help="Renal risk factor, e.g. hypertension (28 Gy BED)."),
    ] = None,
    kidney_suv_mean: Annotated[
        float | None, typer.Option("--kidney-suv-mean", help="Kidney SUVmean on the 68Ga PET.")
    ] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="M or F.")] = None,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg", help="Weight, kg.")] = None,
    prediction_model: Annotated[
        Path | None, typer.Option("--prediction-model", help="Site dose-prediction model (TOML).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("plan_out"),
    json_: Annotated[
        bool, typer.Option("--json", help="Print plan.json instead of tables.")
    ] = False,
) -> None:
    """Checklist, regimen and predicted doses for 177Lu-DOTATATE; writes plan.json and plan.html."""
    from nenscope.plan import PatientData, load_model, make_plan, read_findings, write_plan

    if (findings is None) == (study is None):
        raise NenscopeError("give either --findings FILE or --study DIR")
    organ_suv: dict[str, float | None] = {}
    if study is not None:
        from nenscope.plan.pet import analyse_pet

        kid = load_model(prediction_model).get("kidneys")
        need = kid is not None and kid.slope_gy_per_gbq != 0.0 and kidney_suv_mean is None
        doc, organ_suv = analyse_pet(study, kidneys=need)
    else:
        doc = read_findings(findings)
    if kidney_suv_mean is not None:
        organ_suv["kidneys"] = kidney_suv_mean
    priors = None
    if prior_therapy is not None:
        priors = tuple(p for p in prior_therapy if p.strip().lower() != "none")
    patient = PatientData(
        ki67_percent=ki67,
        egfr_ml_min=egfr,
        haemoglobin_g_dl=haemoglobin,
        wbc_10e9_l=wbc,
        platelets_10e9_l=platelets,
        bilirubin_x_uln=bilirubin_x_uln,
        albumin_g_dl=albumin,
        karnofsky=karnofsky,
        ecog=ecog,
        days_since_long_acting_ssa=days_since_ssa,
        pregnant=pregnant,
        breastfeeding=breastfeeding,
        prior_therapies=priors,
        risk_factors=tuple(risk_factor or ()),
        sex=sex,
        weight_kg=weight_kg,
    )
    result = make_plan(doc, patient, organ_suv=organ_suv, model_path=prediction_model)
    paths = write_plan(result, out)
    if json_:
        print_json(result.to_dict())
        return
    _table(result)
    console.print(f"written: {paths['json']}, {paths['html']}")
