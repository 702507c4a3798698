"""``nenscope radiomics``: IBSI features of one ROI, and ``radiomics fit`` for a classifier.

``nenscope radiomics IMAGE MASK`` is short for ``nenscope radiomics extract IMAGE MASK``: the
group falls back to ``extract`` when its first argument is not a sub-command name.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table
from typer.core import TyperGroup

from nenscope.cli import app
from nenscope.cli._common import console, print_json
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


def _is_nifti(path: Path) -> bool:
    return path.name.endswith(".nii") or path.name.endswith(".nii.gz")


def _load_image(path: Path, units: str):
    from nenscope.imaging.nifti import read_nifti

    if not path.exists():
        raise NenscopeError(f"image not found: {path}")
    if _is_nifti(path):
        return read_nifti(path)
    from nenscope.imaging import load_study

    study = load_study(path, load_ct=False)
    if units == "stored":
        return study.emission
    return study.suv(units)


def _load_mask(path: Path, image, label: int | None, roi: str | None) -> np.ndarray:
    """ROI on the image grid via ``nenscope.imaging.masks.read_mask`` (NIfTI, SEG, RTSTRUCT)."""
    from nenscope.imaging.masks import read_mask

    if not path.exists():
        raise NenscopeError(f"mask not found: {path}")
    is_rtstruct = False
    if not _is_nifti(path) and path.is_file() and roi:
        import pydicom

        is_rtstruct = (
            str(pydicom.dcmread(str(path), stop_before_pixels=True).get("Modality", "")).upper()
            == "RTSTRUCT"
        )
    mvol, names = read_mask(path, image, roi_names=[roi] if is_rtstruct else None)
    arr = np.asarray(mvol.array)
    if roi and names:
        hits = [k for k, v in names.items() if v.lower() == roi.lower()]
        if not hits:
            raise NenscopeError(f"ROI {roi!r} not found; the mask has: {', '.join(names.values())}")
        label = hits[0]
    if label is not None:
        out = arr == label
        if not out.any():
            raise NenscopeError(
                f"label {label} is absent from the mask (values: {np.unique(arr)[1:].tolist()})"
            )
        return out
    return arr > 0


def _settings(preset_name: str | None, settings_file: Path | None):
    from nenscope.radiomics import load_settings, preset

    if preset_name and settings_file:
        raise NenscopeError("give either --preset or --settings, not both")
    if settings_file:
        return load_settings(settings_file)
    return preset(preset_name or "pet-default")


def _write_csv(path: Path, feats: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["tag", "value"])
        for k, v in feats.items():
            w.writerow(
                [k, "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))]
            )


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
) -> None:
    """IBSI-1 features of one ROI (units: mm, mm², mm³ and image units), keyed by IBSI tag."""
    from nenscope.imaging import SUV_KINDS
    from nenscope.radiomics import extract_volume_features

    if units not in (*SUV_KINDS, "stored"):
        raise NenscopeError(f"--units must be one of {', '.join(SUV_KINDS)} or stored")
    settings = _settings(preset_name, settings_file)
    vol = _load_image(image, units)
    m = _load_mask(mask, vol, label, roi)
    with console.status("computing features…", spinner="dots") if not json_ else _null():
        feats = extract_volume_features(vol, m, settings)
    if out is not None:
        _write_csv(out, feats)
    if json_:
        print_json({k: (None if math.isnan(v) else v) for k, v in feats.items()})
        return
    if out is not None:
        console.print(f"{len(feats)} features ({settings.name}) written to {out}")
        return
    table = Table(title=f"IBSI features — {settings.name}")
    table.add_column("tag", style="bold")
    table.add_column("value", justify="right")
    for k, v in feats.items():
        table.add_row(k, f"{v:.6g}")
    console.print(table)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


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
    with console.status("computing features…", spinner="dots") if not json_ else _null():
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
