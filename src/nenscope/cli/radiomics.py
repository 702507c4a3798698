"""``nenscope radiomics``: IBSI features of one ROI, and ``radiomics fit`` for a classifier.

``nenscope radiomics IMAGE MASK`` is short for ``nenscope radiomics extract IMAGE MASK``: the
group falls back to ``extract`` when its first argument is not a sub-command name.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from typer.core import TyperGroup

from nenscope.cli import app
from nenscope.cli._common import AllowMismatchOption, console, err_console, print_json
from nenscope.errors import NenscopeError


class _DefaultExtractGroup(TyperGroup):
    """Route ``radiomics IMAGE MASK`` to the ``extract`` command."""

    def parse_args(self, ctx, args):  # noqa: ANN001 - click signature
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["extract", *args]
        return super().parse_args(ctx, args)


radiomics_app = typer.Typer(
    cls=_DefaultExtractGroup,
    no_args_is_help=True,
    help="IBSI radiomics: `radiomics IMAGE MASK` (= `radiomics extract`) and `radiomics fit`.",
)
app.add_typer(radiomics_app, name="radiomics")


@radiomics_app.command("extract")
def extract(
    image: Annotated[
        Path, typer.Argument(help="Image: NIfTI (.nii/.nii.gz) or a DICOM PET/SPECT folder or zip.")
    ],
    mask: Annotated[
        Path, typer.Argument(help="ROI: NIfTI label map, DICOM RTSTRUCT or DICOM SEG file.")
    ],
    preset_name: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="Settings preset: ibsi-a … ibsi-e, ibsi-phantom, pet-default (default).",
        ),
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            help="YAML settings file (keys as in nenscope.radiomics.RadiomicsSettings).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write tag,value rows to this CSV file.")
    ] = None,
    label: Annotated[
        int | None,
        typer.Option(
            "--label", help="Use only this label value of the mask (default: every non-zero voxel)."
        ),
    ] = None,
    roi: Annotated[
        str | None, typer.Option("--roi", help="RTSTRUCT ROI / SEG segment name to use.")
    ] = None,
    units: Annotated[
        str,
        typer.Option(
            "--units",
            help="DICOM input only: SUV kind bw (default, g/ml), sul, lbm_james, bsa, ibw, "
            "or stored (the series' own units, e.g. Bq/ml).",
        ),
    ] = "bw",
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    allow_mismatch: AllowMismatchOption = False,
) -> None:
    """IBSI-1 features of one ROI (units: mm, mm², mm³ and image units), keyed by IBSI tag."""
    from nenscope.jobs.radiomics import roi_features

    with nullcontext() if json_ else console.status("computing features…", spinner="dots") as st:
        res = roi_features(
            image,
            mask,
            preset_name=preset_name,
            settings_file=settings_file,
            units=units,
            label=label,
            roi=roi,
            out_csv=out,
            progress=(lambda stage: st.update(f"{stage}…")) if st is not None else None,
            allow_mismatch=allow_mismatch,
        )
    for warning in res.warnings:  # the header warnings that `nenscope info` shows
        err_console.print(f"[yellow]warning[/] {warning}", highlight=False)
    feats = res.features
    if json_:  # undefined features (NaN, ±inf for a one-voxel ROI) are null in strict JSON
        print_json({k: (v if math.isfinite(v) else None) for k, v in feats.items()})
        return
    if out is not None:
        console.print(f"{len(feats)} features ({res.settings_name}) written to {out}")
        return
    table = Table(title=f"IBSI features — {res.settings_name}")
    table.add_column("tag", style="bold")
    table.add_column("value", justify="right")
    for k, v in feats.items():
        table.add_row(k, f"{v:.6g}")
    console.print(table)


@radiomics_app.command("fit")
def fit(
    features: Annotated[
        Path,
        typer.Argument(help="CSV: id column, then one column per feature (one row per sample)."),
    ],
    labels: Annotated[Path, typer.Argument(help="CSV with header: id,label (two classes).")],
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds (stratified).")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="Repeats of the k-fold split.")] = 10,
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive", help="Label of the positive class (default: the larger in sort order)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (splits and bootstrap).")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Cross-validated logistic-regression classifier: out-of-fold AUC with bootstrap 95 % CI."""
    from nenscope.radiomics.classify import fit_classifier, read_feature_table, read_labels

    ids, names, x = read_feature_table(features)
    res = fit_classifier(
        ids,
        names,
        x,
        read_labels(labels),
        folds=folds,
        repeats=repeats,
        seed=seed,
        positive_label=positive,
    )
    if json_:
        print_json(res.to_dict())
        return
    table = Table(title="Radiomics classifier (cross-validated)")
    table.add_column("quantity", style="bold")
    table.add_column("value", justify="right")
    table.add_row(
        "samples (positive)", f"{res.n_samples} ({res.n_positive} = {res.positive_label})"
    )
    table.add_row("features", str(res.n_features))
    table.add_row("CV", f"{res.folds}-fold × {res.repeats}")
    table.add_row("AUC [95 % CI]", f"{res.auc:.3f} [{res.auc_ci_low:.3f}, {res.auc_ci_high:.3f}]")
    for name, coef in res.top_features[:5]:
        table.add_row(f"coef {name}", f"{coef:+.3f}")
    console.print(table)


# --- `radiomics batch`: many image/mask pairs to one wide table (nenscope.radiomics.batch) ---


@radiomics_app.command("batch")
def batch(
    manifest: Annotated[
        Path, typer.Argument(help="CSV manifest with header id,image,mask[,label].")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Wide table: .parquet (settings in the schema metadata) or .csv "
            "(settings in a .json sidecar).",
        ),
    ],
    preset_name: Annotated[
        str | None, typer.Option("--preset", help="Settings preset (default pet-default).")
    ] = None,
    settings_file: Annotated[
        Path | None, typer.Option("--settings", help="YAML settings file.")
    ] = None,
    units: Annotated[
        str,
        typer.Option(
            "--units", help="DICOM PET/SPECT images: stored (default) or an SUV kind (bw, sul…)."
        ),
    ] = "stored",
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """IBSI features of every manifest pair in one wide table; a bad pair keeps its row with
    the error and the others go on (exit 2 only when every pair failed)."""
    from nenscope.radiomics.batch import run_manifest

    if preset_name and settings_file:
        raise NenscopeError("give either --preset or --settings, not both")
    with nullcontext() if json_ else console.status("computing features…", spinner="dots"):
        res = run_manifest(manifest, out, settings_file or preset_name, units=units)
    if json_:
        print_json(
            {
                "rows": len(res.rows),
                "failed": len(res.errors),
                "outputs": [str(p) for p in res.outputs],
                "errors": [{"id": i, "error": e} for i, e in res.errors],
            }
        )
    else:
        written = " and ".join(str(p) for p in res.outputs)
        console.print(f"{res.n_ok}/{len(res.rows)} pairs with features written to {written}")
        for ident, err in res.errors:
            console.print(f"[yellow]{ident}[/yellow]: {err}")
    if res.errors and not res.n_ok:
        raise NenscopeError(f"no pair gave features (first error: {res.errors[0][1]})")
