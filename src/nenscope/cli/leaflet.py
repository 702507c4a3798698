"""``nenscope leaflet``: a plain-language patient leaflet (HTML, optionally PDF) for an agent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from nenscope.cli import app
from nenscope.cli._common import console, print_json


@app.command()
def leaflet(
    agent: Annotated[
        str,
        typer.Option("--agent", "-a", help="Agent name or alias, e.g. 68Ga-DOTATATE, lutathera."),
    ],
    weight_kg: Annotated[
        float | None,
        typer.Option("--weight-kg", help="Body weight in kg (per-kg activities; default 70 kg)."),
    ] = None,
    age_years: Annotated[
        float | None,
        typer.Option("--age-years", help="Age in years; under 18 the paediatric dosage card."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default leaflet-<agent>.html)."),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print a PDF beside it (headless Chromium).")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Write a patient leaflet for an exam (or 177Lu-DOTATATE therapy) with the computed dose."""
    from nenscope.leaflet import (  # textstat loads its dictionary: not for ``--help``
        TARGET_READING_EASE,
        flesch_reading_ease,
        leaflet_for,
        write_leaflet,
    )

    content = leaflet_for(agent, weight_kg=weight_kg, age_years=age_years)
    slug = re.sub(r"[^a-z0-9]+", "-", content.agent.lower()).strip("-")
    paths = write_leaflet(content, out or Path(f"leaflet-{slug}.html"), pdf=pdf)
    score = flesch_reading_ease(content.body_text)
    if json_:
        print_json(
            {
                "agent": content.agent,
                "files": [str(p) for p in paths],
                "activity_mbq": content.activity_mbq,
                "effective_dose_msv": content.effective_dose_msv,
                "flesch_reading_ease": score,
                "target_reading_ease": TARGET_READING_EASE,
            }
        )
        return
    for path in paths:
        console.print(f"wrote {path}")
    console.print(
        f"{content.title}: Flesch reading ease {score:.0f} (target ≥ {TARGET_READING_EASE:g})"
    )
