"""Knowledge sub-commands: ``protocol``, ``tracer``, ``decay``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, print_json
from nenscope.errors import NenscopeError
from nenscope.knowledge import (
    Agent,
    ProtocolAdvice,
    activity_after,
    advise,
    canonical_nuclide,
    dose_for_patient,
    get_agent,
    list_scenarios,
)
from nenscope.knowledge.radionuclides import half_life_s
from nenscope.report.format import fmt

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AgeOpt = Annotated[
    float | None,
    typer.Option("--age-years", help="Age in years; under 18 the EANM paediatric dosage card."),
]
JurisdictionOpt = Annotated[
    str | None, typer.Option("--jurisdiction", help="us or eu: approval status shown for it.")
]


@app.command()
def protocol(
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help="Clinical scenario (see --list-scenarios)."),
    ] = None,
    weight_kg: Annotated[
        float | None, typer.Option("--weight-kg", help="Body weight in kg.")
    ] = None,
    height_cm: Annotated[float | None, typer.Option("--height-cm", help="Height in cm.")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="F or M.")] = None,
    age_years: AgeOpt = None,
    jurisdiction: JurisdictionOpt = None,
    genotype: Annotated[
        str | None,
        typer.Option(
            "--genotype",
            help="pheo-paraganglioma: sporadic, SDHx (SDHA/B/C/D/AF2), RET, NF1, MAX, TMEM127, "
            "VHL or EPAS1.",
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(
            "--site", help="pheo-paraganglioma: adrenal, extra-adrenal, head-neck or metastatic."
        ),
    ] = None,
    doubling_time_months: Annotated[
        float | None,
        typer.Option("--doubling-time-months", help="mtc: calcitonin/CEA doubling time in months."),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list-scenarios", help="List the scenarios and exit.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Advise the agent, activity (MBq), scan time and effective dose (mSv) for a scenario."""
    if list_:
        rows = list_scenarios()
        if json_:
            print_json([{"name": n, "title": t} for n, t in rows])
            return
        table = Table(title="Scenarios")
        table.add_column("name", style="bold")
        table.add_column("clinical question")
        for name, title in rows:
            table.add_row(name, title)
        console.print(table)
        return
    if scenario is None:
        raise NenscopeError("give --scenario NAME (or --list-scenarios)")
    if weight_kg is None:
        raise NenscopeError("give --weight-kg (body weight in kg)")
    advice = advise(
        scenario,
        weight_kg=weight_kg,
        height_cm=height_cm,
        sex=sex,
        age_years=age_years,
        jurisdiction=jurisdiction,
        genotype=genotype,
        site=site,
        doubling_time_months=doubling_time_months,
    )
    if json_:
        print_json(advice.to_dict())
        return
    _print_advice(advice)


def _print_advice(advice: ProtocolAdvice) -> None:
    patient = advice.patient
    who = f"{patient['weight_kg']:g} kg" + (
        f", {patient['age_years']:g} y" if patient["age_years"] is not None else ""
    )
    inputs = ", ".join(f"{k} {v}" for k, v in advice.inputs.items() if v is not None)
    status_col = f"status ({advice.jurisdiction.upper()})" if advice.jurisdiction else "status"
    table = Table(title=f"{advice.title} — {who}" + (f" — {inputs}" if inputs else ""))
    for col in ("#", "agent", status_col, "modality", "MBq", "scan", "mSv"):
        table.add_column(col, no_wrap=col not in ("modality", status_col))
    for rec in advice.recommendations:
        table.add_row(
            str(rec.rank),
            rec.agent,
            rec.status,
            rec.modality,
            fmt(rec.activity_mbq),
            f"{rec.scan_h:g} h",
            fmt(rec.effective_dose_msv, ".2f"),
        )
    console.print(table)
    if advice.branch_source:
        console.print(f"[dim]Branch {advice.branch}: {advice.branch_source}[/dim]")
    console.print("[bold]Why[/bold]")
    for rec in advice.recommendations:
        console.print(f"  {rec.rank}. {rec.rationale} [dim]({'; '.join(rec.evidence)})[/dim]")
        if rec.activity_method != "adult rule":
            console.print(
                f"     [dim]activity: {rec.activity_method}; dose: {rec.dose_method}[/dim]"
            )
    first = advice.recommendations[0].agent
    guidance = [
        *(f"{g.text} [dim]({g.source})[/dim]" for g in advice.preparation),
        *(f"{d.drug}: {d.advice} [dim]({d.source})[/dim]" for d in advice.interfering_drugs),
        f"Pregnancy: {advice.pregnancy.text} [dim]({advice.pregnancy.source})[/dim]",
        f"Breast-feeding: {advice.breastfeeding.text} [dim]({advice.breastfeeding.source})[/dim]",
    ]
    for heading, items in ((f"Preparation ({first})", guidance), ("Cautions", advice.cautions)):
        if items:
            console.print(f"[bold]{heading}[/bold]")
            for item in items:
                console.print(f"  • {item}")


@app.command()
def tracer(
    agent: Annotated[str, typer.Argument(help="Agent name or alias, e.g. 68Ga-DOTATATE, netspot.")],
    weight_kg: Annotated[
        float | None, typer.Option("--weight-kg", help="Body weight in kg for the activity.")
    ] = None,
    age_years: AgeOpt = None,
    jurisdiction: JurisdictionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Print one agent's facts with their sources (approval, guidance, activity, dose)."""
    record = get_agent(agent)
    data = record.to_dict()
    if jurisdiction is not None:
        data["status"] = record.status_in(jurisdiction)
    if weight_kg is not None or age_years is not None:
        if weight_kg is not None and weight_kg <= 0:
            raise NenscopeError(f"weight must be > 0 kg, got {weight_kg:g}")
        dose = dose_for_patient(record, weight_kg=weight_kg, age_years=age_years)
        data["activity_mbq"] = dose.activity_mbq
        data["effective_dose_msv"] = dose.effective_dose_msv
        data["for_patient"] = dose.to_dict()
    if json_:
        print_json(data)
        return
    table = Table(title=record.name, show_header=False, show_lines=True)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in _tracer_rows(record, data):
        table.add_row(k, v)
    console.print(table)


def _cited(text: str, source: str) -> str:
    return f"{text} [dim]({source})[/dim]"


def _tracer_rows(record: Agent, data: dict) -> list[tuple[str, str]]:
    act = record.activity
    rule = "—"
    if act.rule == "per_kg":
        rule = f"{act.mbq_per_kg:g} MBq/kg, max {act.max_mbq:g} MBq [dim]({act.max_source})[/dim]"
    elif act.rule == "fixed":
        rule = f"{act.mbq:g} MBq"
    times = ", ".join(f"{t:g} h" for t in record.imaging_times_h) or "—"
    rows = [
        ("target", f"{record.target} ({record.binds})"),
        ("radionuclide", record.radionuclide or "—"),
        ("modality", record.modality),
        ("status", data["status"]),
        *(
            (f"approval {j.upper()}", _cited(f"{a.status}: {a.note}", a.source))
            for j, a in record.approval.items()
        ),
        ("activity", f"{rule}\n[dim]{act.source}[/dim]"),
        (
            "scan",
            f"key scan {record.scan_h:g} h; images at {times}\n[dim]{record.imaging_source}[/dim]",
        ),
        (
            "effective dose",
            f"{fmt(record.effective_dose_msv_per_mbq)} mSv/MBq\n[dim]{record.dose_source}[/dim]",
        ),
        ("preparation", "\n".join(_cited(g.text, g.source) for g in record.preparation) or "—"),
        (
            "interfering drugs",
            "\n".join(_cited(f"{d.drug}: {d.advice}", d.source) for d in record.interfering_drugs)
            or "—",
        ),
        ("pregnancy", _cited(record.pregnancy.text, record.pregnancy.source)),
        ("breast-feeding", _cited(record.breastfeeding.text, record.breastfeeding.source)),
        ("cautions", "\n".join(record.cautions) or "—"),
        ("performance", "\n".join(_perf(p) for p in record.performance) or "—"),
    ]
    if "for_patient" in data:
        d = data["for_patient"]
        rows.insert(
            4,
            (
                "for this patient",
                f"{fmt(d['activity_mbq'])} MBq → {fmt(d['effective_dose_msv'], '.2f')} mSv"
                f"\n[dim]{d['activity_method']}; {d['dose_method']}[/dim]",
            ),
        )
    return rows


def _perf(p: dict) -> str:
    keys = (
        "sensitivity",
        "specificity",
        "accuracy",
        "sensitivity_range",
        "specificity_range",
        "comparator",
        "note",
    )
    facts = ", ".join(f"{k} {p[k]}" for k in keys if k in p)
    return f"{p.get('setting', '')}: {facts} [dim]({p.get('source', '')})[/dim]"


@app.command()
def decay(
    nuclide: Annotated[str, typer.Argument(help="Radionuclide, e.g. Ga-68, 68Ga, F18, Lu-177.")],
    activity_mbq: Annotated[
        float, typer.Option("--activity-mbq", help="Starting activity in MBq.")
    ],
    hours: Annotated[
        float, typer.Option("--hours", help="Elapsed time in hours (may be negative).")
    ],
    json_: JsonOpt = False,
) -> None:
    """Activity (MBq) left after HOURS of physical decay (ICRP-107 half-lives)."""
    name = canonical_nuclide(nuclide)
    left = activity_after(name, activity_mbq, hours=hours)
    data = {
        "nuclide": name,
        "half_life_h": half_life_s(name) / 3600.0,
        "activity_mbq": activity_mbq,
        "hours": hours,
        "activity_left_mbq": left,
        "fraction_left": left / activity_mbq if activity_mbq else None,
    }
    if json_:
        print_json(data)
        return
    console.print(
        f"{name} (T½ {data['half_life_h']:.4g} h): {activity_mbq:g} MBq → "
        f"[bold]{left:.4g} MBq[/bold] after {hours:g} h"
    )
