"""``nenscope cohort``: many studies on Dask (``run``) and the cohort tables (``summary``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, err_console

cohort_app = typer.Typer(
    help="Run many studies on Dask and tabulate the cohort.", no_args_is_help=True
)
app.add_typer(cohort_app, name="cohort")

DEFAULT_OUT = Path("out") / "cohort"


class _RichProgress:
    """The runner's progress as a Rich bar; failures are printed as they come."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task = None

    def start(self, total: int, skipped: int, workers: int) -> None:
        if skipped:
            err_console.print(
                f"{skipped} stud{'y' if skipped == 1 else 'ies'} already in the store"
            )
        if total:
            err_console.print(f"{total} to run on {workers} Dask worker(s)")
        self.task = self.progress.add_task("studies", total=total)

    def advance(self, outcome) -> None:
        if outcome.status == "failed":
            self.progress.console.print(f"[red]failed[/red] {outcome.study_id}: {outcome.error}")
        self.progress.update(self.task, advance=1, description=outcome.study_id)


@cohort_app.command("run")
def run(
    manifest: Annotated[
        Path, typer.Argument(help="CSV: study_id,path,tracer[,fdg_path,prior_path].")
    ],
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Local Dask workers [default: one per CPU]."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Use an existing Dask cluster, e.g. tcp://host:8786."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Results store, sqlite:///PATH [default: OUT/cohort.sqlite]."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Output folder: OUT/<study_id>/ per study.")
    ] = DEFAULT_OUT,
    radiomics: Annotated[
        bool, typer.Option("--radiomics", help="Also compute IBSI radiomics per lesion.")
    ] = False,
    radiomics_preset: Annotated[
        str, typer.Option("--radiomics-preset", help="Radiomics preset or settings YAML.")
    ] = "pet-default",
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run the studies that failed before again.")
    ] = False,
) -> None:
    """Analyse every study of MANIFEST not yet in the store, one Dask task per study.

    A study that fails is recorded with its error and the others go on; a re-run skips the
    studies already in the store. `pacs://HOST:PORT/ROOT/studies/UID` paths are pulled from the
    PACS (credentials from NENSCOPE_PACS_USER/NENSCOPE_PACS_PASSWORD or NENSCOPE_PACS_TOKEN).
    """
    from nenscope.cohort import run_cohort
    from nenscope.pacs import PacsAuth

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as bar:
        result = run_cohort(
            manifest,
            out_dir=out,
            db=db,
            workers=workers,
            scheduler=scheduler,
            radiomics=radiomics_preset if radiomics else None,
            retry_failed=retry_failed,
            auth=PacsAuth.from_env(),
            progress=_RichProgress(bar),
        )
    rate = len(result.done) / result.elapsed_s * 60 if result.elapsed_s else 0.0
    console.print(
        f"{len(result.done)} done, {len(result.failed)} failed, {len(result.skipped)} skipped"
        + (f" in {result.elapsed_s:.0f} s ({rate:.1f} studies/min)" if result.elapsed_s else "")
        + f"; store: {result.db}"
    )


@cohort_app.command("summary")
def summary(
    db: Annotated[
        str, typer.Option("--db", help="Results store of `cohort run`, sqlite:///PATH or a path.")
    ] = str(DEFAULT_OUT / "cohort.sqlite"),
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the tables and plots.")
    ] = DEFAULT_OUT / "summary",
    radiomics: Annotated[
        bool, typer.Option("--radiomics", help="Join the radiomics features to the lesion table.")
    ] = False,
) -> None:
    """Write the cohort tables (CSV + Parquet: studies, lesions) and plots (Krenning, SSTR tumour
    volume, NETPET, detection per site)."""
    from nenscope.cohort import summarize

    result = summarize(db, out, radiomics=radiomics)
    table = Table(
        title=f"{result.n_studies} studies ({result.n_done} done), {result.n_lesions} lesions"
    )
    table.add_column("output")
    table.add_column("file")
    for name, path in result.files.items():
        table.add_row(name, str(path))
    console.print(table)
