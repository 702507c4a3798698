"""``make demo``: the main job on built-in data, end to end.

1. protocol advice for the virtual patient (pre-PRRT work-up: SSTR PET, plus FDG);
2. simulate that patient's 68Ga-DOTATATE and 18F-FDG PET/CT (fixed seed, known truth);
3. analyse the SSTR study with its FDG partner (lesions, Krenning, SSTR-RADS, NETPET, PRRT);
4. write ``out/demo/report.html`` (and findings.json, lesions.csv, DICOM-SEG) and print a summary
   with the truth beside it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from nenscope.cli._common import console
from nenscope.cli.analyze import print_findings
from nenscope.knowledge import advise

SEED = 7
N_LESIONS = 6
WEIGHT_KG = 78.0
OUT = Path("out/demo")


def _simulate(tracer: str, folder: Path) -> dict:
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig, simulate_study

    sim = simulate_study(
        SimulationConfig(
            tracer=tracer,
            seed=SEED,
            n_lesions=N_LESIONS,
            tumour_type="G2",
            sex="M",
            weight_kg=WEIGHT_KG,
        )
    )
    write_study(sim, folder)
    return json.loads((folder / "truth" / "manifest.json").read_text("utf-8"))


def _match(truth: list[dict], lesions: list[dict]) -> dict[int, str]:
    """Truth lesion id → "#n (Krenning k)" of the detected lesion whose centre lies within its
    radius + 8 mm (two voxels)."""
    out: dict[int, str] = {}
    for t in truth:
        best = min(
            lesions,
            default=None,
            key=lambda d: float(np.linalg.norm(np.subtract(d["center_mm"], t["center_mm"]))),
        )
        if (
            best is not None
            and np.linalg.norm(np.subtract(best["center_mm"], t["center_mm"]))
            <= t["diameter_mm"] / 2 + 8.0
        ):
            out[t["id"]] = f"#{best['id']} (Krenning {best['krenning']})"
    return out


def main(out: Path = OUT) -> int:
    t_start = time.perf_counter()
    advice = advise("pre-prrt", weight_kg=WEIGHT_KG)
    console.rule("[bold]1. Protocol advice (pre-PRRT work-up, 78 kg)")
    for rec in advice.recommendations:
        console.print(
            f"  {rec.rank}. [bold]{rec.agent}[/bold]: {rec.activity_mbq:g} MBq, scan at "
            f"{rec.uptake_min} min, {rec.effective_dose_msv:.2f} mSv — {rec.rationale}"
        )

    console.rule("[bold]2. Simulating the virtual patient (68Ga-DOTATATE and 18F-FDG PET/CT)")
    with console.status("simulating 68Ga-DOTATATE PET/CT…"):
        truth = _simulate("68Ga-DOTATATE", out / "sim" / "sstr")
    with console.status("simulating 18F-FDG PET/CT…"):
        _simulate("18F-FDG", out / "sim" / "fdg")
    console.print(f"  written to {out / 'sim'} ({time.perf_counter() - t_start:.0f} s)")

    console.rule("[bold]3. Analysis")
    from nenscope.jobs.analyze import run_analysis

    with console.status("analysing…") as status:
        result = run_analysis(
            out / "sim" / "sstr",
            out,
            fdg_path=out / "sim" / "fdg",
            progress=lambda s: status.update(f"{s}…"),
        )
    print_findings(result.findings.to_dict(), out)

    console.rule("[bold]4. Truth (simulator)")
    table = Table()
    for col in (
        "#",
        "site",
        "diameter mm",
        "true SUVmean",
        "true Krenning",
        "SSTR",
        "FDG",
        "found as",
    ):
        table.add_column(col)
    found = _match(truth["lesions"], result.findings.to_dict()["lesions"])
    for les in truth["lesions"]:
        table.add_row(
            str(les["id"]),
            les["site"],
            f"{les['diameter_mm']:.0f}",
            f"{les['true_suv_mean']:.1f}",
            str(les["krenning_true"]),
            str(les["sstr_expression"]),
            str(les["fdg_avidity"]),
            found.get(les["id"], "[red]missed[/red]"),
        )
    console.print(table)
    console.print(
        f"[bold]done in {time.perf_counter() - t_start:.0f} s[/bold]: open {out / 'report.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
