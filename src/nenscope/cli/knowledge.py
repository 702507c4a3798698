"""Knowledge sub-commands: ``protocol``, ``tracer``, ``decay``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, print_json
from nenscope.errors import NenscopeError
from nenscope.knowledge import activity_after, advise, canonical_nuclide, get_agent, list_scenarios
from nenscope.knowledge.radionuclides import half_life_s
from nenscope.report.format import fmt

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


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
    list_: Annotated[
        bool, typer.Option("--list-scenarios", help="List the scenarios and exit.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Advise the agent, activity (MBq), uptake time and effective dose (mSv) for a scenario."""
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
    advice = advise(scenario, weight_kg=weight_kg, height_cm=height_cm, sex=sex)
    if json_:
        print_json(advice.to_dict())
        return
    table = Table(title=f"{advice.title} — {weight_kg:g} kg")
    for col in ("#", "agent", "status", "modality", "MBq", "scan", "mSv"):
        table.add_column(col, no_wrap=col != "modality")
    for rec in advice.recommendations:
        table.add_row(
            str(rec.rank),
            rec.agent,
            rec.status,
            rec.modality,
            fmt(rec.activity_mbq),
            f"{rec.uptake_min} min",
            fmt(rec.effective_dose_msv, ".2f"),
        )
    console.print(table)
    console.print("[bold]Why[/bold]")
    for rec in advice.recommendations:
        console.print(f"  {rec.rank}. {rec.rationale} [dim]({'; '.join(rec.evidence)})[/dim]")
    for heading, items in (("Preparation", advice.preparation), ("Cautions", advice.cautions)):
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
    json_: JsonOpt = False,
) -> None:
    """Print one agent's facts with their sources."""
    record = get_agent(agent)
    data = record.to_dict()
    if weight_kg is not None:
        if weight_kg <= 0:
            raise NenscopeError(f"weight must be > 0 kg, got {weight_kg:g}")
        activity = record.activity_mbq(weight_kg)
        data["activity_mbq"] = activity
        data["effective_dose_msv"] = record.effective_dose_msv(activity)
    if json_:
        print_json(data)
        return
    table = Table(title=record.name, show_header=False, show_lines=True)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    act = record.activity
    rule = {
        "per_kg": f"{act.mbq_per_kg:g} MBq/kg"
        + (f", max {act.max_mbq:g} MBq" if act.max_mbq else ""),
        "fixed": f"{act.mbq:g} MBq" if act.mbq else "",
    }.get(act.rule, "—")
    rows = [
        ("target", record.target),
        ("radionuclide", record.radionuclide or "—"),
        ("modality", record.modality),
        ("status", record.status),
        ("activity", f"{rule}\n[dim]{act.source}[/dim]"),
        (
            "uptake",
            f"{record.uptake_min} min; images at {', '.join(f'{t:g} h' for t in record.imaging_times_h) or '—'}\n[dim]{record.imaging_source}[/dim]",
        ),
        (
            "effective dose",
            f"{fmt(record.effective_dose_msv_per_mbq)} mSv/MBq\n[dim]{record.dose_source}[/dim]",
        ),
        ("preparation", "\n".join(record.preparation) or "—"),
        ("cautions", "\n".join(record.cautions) or "—"),
        ("performance", "\n".join(_perf(p) for p in record.performance) or "—"),
    ]
    if weight_kg is not None:
        rows.insert(
            5,
            (
                "for this patient",
                f"{fmt(data['activity_mbq'])} MBq → {fmt(data['effective_dose_msv'], '.2f')} mSv",
            ),
        )
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


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
