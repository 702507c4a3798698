"""Train and cross-validate a radiomics classifier (scikit-learn) with an honest AUC estimate.

The model is a pipeline (median imputation → standardisation → L2 logistic regression); the AUC
is computed on out-of-fold predictions of repeated stratified k-fold cross-validation, so the
features never see their own labels. The 95 % confidence interval comes from a stratified
bootstrap of the out-of-fold predictions (percentile method). With few patients the interval is
wide: report it, not the point estimate alone.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nenscope.errors import NenscopeError


@dataclass(frozen=True)
class FitResult:
    """Cross-validated performance of the classifier."""

    n_samples: int
    n_positive: int
    n_features: int
    folds: int
    repeats: int
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    positive_label: str
    top_features: list[tuple[str, float]]

    def to_dict(self) -> dict:
        return asdict(self)


def read_feature_table(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """Wide CSV: first column = sample id, other columns = numeric features.

    A long ``id,tag,value`` table (e.g. ``radiomics.csv`` of ``nenscope analyze``, whose first
    column is the lesion) is pivoted to that form. A two-column ``tag,value`` file (one ROI, as
    written by ``nenscope radiomics``) is not a cohort table and is rejected with a hint.
    """
    path = Path(path)
    if not path.is_file():
        raise NenscopeError(f"feature table not found: {path}")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise NenscopeError(f"{path}: needs a header and at least one row")
    header = rows[0]
    if [h.strip().lower() for h in header[:2]] == ["tag", "value"]:
        raise NenscopeError(
            f"{path}: a single-ROI tag,value file; give one row per sample "
            "(id column + one column per feature)"
        )
    if len(header) == 3 and [h.strip().lower() for h in header[1:]] == ["tag", "value"]:
        return _pivot(path, rows[1:])
    ids = [r[0] for r in rows[1:]]
    names = header[1:]
    try:
        x = np.array(
            [[float(v) if v not in ("", "nan", "NaN") else np.nan for v in r[1:]] for r in rows[1:]]
        )
    except ValueError as exc:
        raise NenscopeError(f"{path}: non-numeric feature value ({exc})") from exc
    if x.shape[1] != len(names):
        raise NenscopeError(f"{path}: rows have a different number of columns than the header")
    return ids, names, x


def _pivot(path: Path, rows: list[list[str]]) -> tuple[list[str], list[str], np.ndarray]:
    ids: list[str] = []
    names: list[str] = []
    values: dict[tuple[str, str], float] = {}
    for r in rows:
        if len(r) < 3:
            continue
        if r[0] not in ids:
            ids.append(r[0])
        if r[1] not in names:
            names.append(r[1])
        try:
            values[(r[0], r[1])] = float(r[2]) if r[2] not in ("", "nan", "NaN") else np.nan
        except ValueError:  # non-numeric entries (e.g. an "error" message) are not features
            continue
    names = [n for n in names if any((i, n) in values for i in ids)]
    x = np.array([[values.get((i, n), np.nan) for n in names] for i in ids])
    if not names:
        raise NenscopeError(f"{path}: no numeric features")
    return ids, names, x


def read_labels(path: str | Path) -> dict[str, str]:
    """CSV ``id,label`` (header row required)."""
    path = Path(path)
    if not path.is_file():
        raise NenscopeError(f"label table not found: {path}")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise NenscopeError(f"{path}: needs a header row 'id,label' and one row per sample")
    return {r[0]: r[1].strip() for r in rows[1:] if len(r) >= 2}


def auc_mann_whitney(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic (ties count one half)."""
    from scipy.stats import rankdata

    r = rankdata(score)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fit_classifier(
    ids: list[str],
    names: list[str],
    x: np.ndarray,
    labels: dict[str, str],
    *,
    folds: int = 5,
    repeats: int = 10,
    n_bootstrap: int = 2000,
    seed: int = 0,
    positive_label: str | None = None,
) -> FitResult:
    """Repeated stratified k-fold AUC with a bootstrap 95 % CI; binary labels only."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keep = [k for k, i in enumerate(ids) if i in labels]
    missing = len(ids) - len(keep)
    if len(keep) < 4:
        raise NenscopeError(f"only {len(keep)} samples have labels ({missing} unmatched ids)")
    y_raw = np.array([labels[ids[k]] for k in keep])
    classes = sorted(set(y_raw))
    if len(classes) != 2:
        raise NenscopeError(f"labels must have exactly two classes, found {classes}")
    pos = positive_label if positive_label is not None else classes[1]
    if pos not in classes:
        raise NenscopeError(f"positive label {pos!r} not among {classes}")
    y = (y_raw == pos).astype(int)
    xk = x[keep]
    good = ~np.all(np.isnan(xk), axis=0)
    xk = xk[:, good]
    names = [n for n, g in zip(names, good, strict=True) if g]
    n_min = int(min(y.sum(), (1 - y).sum()))
    if n_min < 2:
        raise NenscopeError("each class needs at least 2 samples")
    folds = min(folds, n_min)
    model = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)
    )
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores = np.zeros((repeats, y.size))
    for n, (tr, te) in enumerate(cv.split(xk, y)):
        model.fit(xk[tr], y[tr])
        scores[n // folds, te] = model.predict_proba(xk[te])[:, 1]
    oof = scores.mean(0)
    auc = float(np.mean([auc_mann_whitney(y, s) for s in scores]))
    rng = np.random.default_rng(seed)
    pos_idx, neg_idx = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots = []
    for _ in range(n_bootstrap):  # stratified resampling keeps both classes in every replicate
        b = np.concatenate([rng.choice(pos_idx, pos_idx.size), rng.choice(neg_idx, neg_idx.size)])
        boots.append(auc_mann_whitney(y[b], oof[b]))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    model.fit(xk, y)
    coef = model[-1].coef_[0]
    order = np.argsort(-np.abs(coef))[:10]
    return FitResult(
        n_samples=int(y.size),
        n_positive=int(y.sum()),
        n_features=int(xk.shape[1]),
        folds=folds,
        repeats=repeats,
        auc=auc,
        auc_ci_low=float(lo),
        auc_ci_high=float(hi),
        positive_label=pos,
        top_features=[(names[i], float(coef[i])) for i in order],
    )
