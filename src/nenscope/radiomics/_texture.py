"""Shared pieces of the texture matrices: neighbour directions, padding, pooled features.

Every matrix is accumulated with ``np.bincount`` on packed integer indices (slice, direction,
grey level, run/zone/count) over all ROI voxels at once: no Python loop touches single voxels.
Loops run over the 4/13 directions or 8/26 neighbour offsets only.
"""

from __future__ import annotations

import itertools

import numpy as np

# IBSI-1 3.6: 13 unique 3D directions (first non-zero component positive); 4 in-plane ones.
DIRECTIONS_3D = tuple(
    d for d in itertools.product((-1, 0, 1), repeat=3) if d != (0, 0, 0) and d[next(i for i in range(3) if d[i])] > 0
)
DIRECTIONS_2D = ((0, 0, 1), (0, 1, -1), (0, 1, 0), (0, 1, 1))
NEIGHBOURS_3D = tuple(d for d in itertools.product((-1, 0, 1), repeat=3) if d != (0, 0, 0))
NEIGHBOURS_2D = tuple(d for d in NEIGHBOURS_3D if d[0] == 0)

SUFFIX_DIRECTIONAL = {
    ("2D", "avg"): "_2D_avg", ("2D", "comb"): "_2D_comb",
    ("2.5D", "avg"): "_2_5D_avg", ("2.5D", "comb"): "_2_5D_comb",
    ("3D", "avg"): "_3D_avg", ("3D", "comb"): "_3D_comb",
}
SUFFIX = {"2D": "_2D", "2.5D": "_2_5D", "3D": "_3D"}


def padded_levels(q: np.ndarray, mask: np.ndarray, pad: int) -> np.ndarray:
    """Grey levels with 0 outside the ROI, zero-padded by ``pad`` voxels on every side."""
    out = np.zeros(tuple(s + 2 * pad for s in q.shape), dtype=np.int32)
    inner = tuple(slice(pad, pad + s) for s in q.shape)
    out[inner] = np.where(mask, q, 0)
    return out


def flat_offset(direction, strides: tuple[int, ...], distance: int = 1) -> int:
    return int(sum(int(d) * distance * s for d, s in zip(direction, strides, strict=True)))


def _safe_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def pool(values: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, float]:
    """Average per-matrix feature values over the non-empty matrices.

    A value undefined for one matrix (e.g. GLCM correlation of a slice with a single grey
    level, 0/0) is left out of that average instead of turning it into NaN.
    """
    out = {}
    for k, v in values.items():
        sel = v[keep]
        sel = sel[np.isfinite(sel)]
        out[k] = float(sel.mean()) if sel.size else float("nan")
    return out


def runlike_features(m: np.ndarray, n_voxels: np.ndarray, names: dict[str, str]) -> dict[str, np.ndarray]:
    """Features shared by GLRLM, GLSZM, GLDZM and NGLDM for a stack ``m`` of shape (K, Ng, Nj).

    ``i`` (grey level) and ``j`` (run length, zone size, distance or dependence count) start at
    1. ``n_voxels`` (K,) is the voxel count behind each matrix (merged matrices count every
    merged direction). ``names`` maps the generic names to the family's IBSI names.
    IBSI-1 sections 3.7-3.11 give the formulas.
    """
    m = m.astype(np.float64)
    # drop empty rows/columns (grey levels or lengths absent from every matrix): same values
    ri = np.flatnonzero(m.sum((0, 2)) > 0)
    cj = np.flatnonzero(m.sum((0, 1)) > 0)
    if ri.size and cj.size and (ri.size < m.shape[1] or cj.size < m.shape[2]):
        m = m[:, ri][:, :, cj]
    else:
        ri, cj = np.arange(m.shape[1]), np.arange(m.shape[2])
    k, ng, nj = m.shape
    i = (ri + 1.0)[None, :, None]
    j = (cj + 1.0)[None, None, :]
    ns = m.sum(axis=(1, 2))
    mi = m.sum(axis=2)  # (K, Ng)
    mj = m.sum(axis=1)  # (K, Nj)
    i1 = i[:, :, 0]
    j1 = j[:, 0, :]
    out = {
        "se": (mj / j1**2).sum(1),
        "le": (mj * j1**2).sum(1),
        "lg": (mi / i1**2).sum(1),
        "hg": (mi * i1**2).sum(1),
        "slg": (m / (i**2 * j**2)).sum((1, 2)),
        "shg": (m * i**2 / j**2).sum((1, 2)),
        "llg": (m * j**2 / i**2).sum((1, 2)),
        "lhg": (m * i**2 * j**2).sum((1, 2)),
        "glnu": (mi**2).sum(1),
        "jnu": (mj**2).sum(1),
    }
    out = {key: _safe_div(v, ns) for key, v in out.items()}
    out["glnu_norm"] = _safe_div((mi**2).sum(1), ns**2)
    out["jnu_norm"] = _safe_div((mj**2).sum(1), ns**2)
    out["perc"] = _safe_div(ns, n_voxels.astype(np.float64))
    p = m / np.where(ns > 0, ns, 1)[:, None, None]
    pi = p.sum(2)
    pj = p.sum(1)
    mu_i = (pi * i1).sum(1, keepdims=True)
    mu_j = (pj * j1).sum(1, keepdims=True)
    out["gl_var"] = ((i1 - mu_i) ** 2 * pi).sum(1)
    out["j_var"] = ((j1 - mu_j) ** 2 * pj).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["j_entr"] = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0).sum((1, 2))
    out["energy"] = (p**2).sum((1, 2))
    return {names[key]: v for key, v in out.items() if key in names}
