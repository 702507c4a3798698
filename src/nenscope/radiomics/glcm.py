"""Grey level co-occurrence matrix (GLCM) features, IBSI-1 section 3.6.

All six aggregation variants: 2D averaged / slice-merged, 2.5D direction-merged / merged,
3D averaged / merged. Matrices are symmetric (each pair counted in both orders).
"""

from __future__ import annotations

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.radiomics._kernels import glcm_counts
from nenscope.radiomics._texture import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    SUFFIX_DIRECTIONAL,
    Lattice,
    build_lattice,
    entropy_bits,
    pool_groups,
)

MAX_MATRIX_CELLS = 50_000_000  # ~400 MB of int64: beyond this the discretisation is unsuitable


def glcm_matrices(
    lattice: Lattice, ng: int, directions, distance: int = 1, per_slice: bool = True
) -> np.ndarray:
    """Co-occurrence counts of shape (n_slices or 1, n_directions, Ng, Ng), symmetrised.

    Pairs are (voxel, voxel + distance·direction) with both voxels in the ROI, counted by one
    compiled pass over the ROI voxels (:func:`~nenscope.radiomics._kernels.glcm_counts`).
    """
    nd = len(directions)
    nz = lattice.n_slices if per_slice else 1
    if nz * nd * ng * ng > MAX_MATRIX_CELLS:
        raise NenscopeError(
            f"{ng} grey levels make GLCMs of {nz * nd * ng * ng:,} cells: use a coarser "
            "discretisation (larger bin_width or a fixed bin number) suited to the image units")
    offs = lattice.offsets([tuple(distance * c for c in d) for d in directions])
    return glcm_counts(lattice.flat, lattice.roi, lattice.z, offs, ng, nz)


def glcm_features(m: np.ndarray, levels: np.ndarray | None = None, ng: int | None = None) -> dict[str, np.ndarray]:
    """IBSI GLCM features for a stack of symmetric matrices (K, n, n); arrays of length K.

    ``levels`` are the grey levels of the rows (default 1..n) so that empty grey levels can be
    dropped before the call; ``ng`` is the nominal number of grey levels (used by the
    normalised inverse differences, default n). Work per matrix: one product with a stack of
    fixed weight matrices, one entropy pass, two bincounts (diagonal / anti-diagonal sums).
    For a symmetric matrix μ_i = μ_j, σ_i = σ_j and HXY1 = HXY2 = HX + HY.
    """
    m = m.astype(np.float64)
    k, n, _ = m.shape
    g = np.arange(1, n + 1, dtype=np.float64) if levels is None else np.asarray(levels, dtype=np.float64)
    ng = n if ng is None else ng
    tot = m.sum(axis=(1, 2))
    p = m / np.where(tot > 0, tot, 1.0)[:, None, None]
    ii, jj = g[:, None], g[None, :]
    d = np.abs(ii - jj)
    d2 = d**2
    with np.errstate(divide="ignore"):
        inv_var_w = np.where(d2 > 0, 1.0 / np.where(d2 > 0, d2, 1.0), 0.0)
    weights = np.stack([
        d2, d, 1 / (1 + d), 1 / (1 + d / ng), 1 / (1 + d2), 1 / (1 + d2 / ng**2), inv_var_w, ii * jj,
    ], axis=-1).reshape(n * n, -1)
    flat = p.reshape(k, n * n)
    w = flat @ weights
    pi = p.sum(2)
    mu = pi @ g
    var = pi @ g**2 - mu**2
    # distributions of |i - j| and i + j (grey levels are integers: bincount on the values)
    di = d.astype(np.int64).ravel()
    si = (ii + jj).astype(np.int64).ravel()
    s0 = int(si.min())
    nd, ns = int(di.max()) + 1, int(si.max()) - s0 + 1
    dvals = np.arange(nd, dtype=np.float64)
    svals = np.arange(s0, s0 + ns, dtype=np.float64)
    kk = np.arange(k)[:, None]
    p_diff = np.bincount((kk * nd + di[None]).ravel(), weights=flat.ravel(), minlength=k * nd).reshape(k, nd)
    p_sum = np.bincount((kk * ns + si[None] - s0).ravel(), weights=flat.ravel(), minlength=k * ns).reshape(k, ns)
    diff_avg = p_diff @ dvals
    sum_avg = p_sum @ svals
    c = svals[None, :] - 2 * mu[:, None]
    pc2 = p_sum * c * c
    hxy = entropy_bits(flat, 1)
    hx = entropy_bits(pi, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (w[:, 7] - mu**2) / var
        info1 = (hxy - 2 * hx) / hx
    info2 = np.sqrt(np.clip(1 - np.exp(-2 * (2 * hx - hxy)), 0, None))
    return {
        "joint_max": flat.max(1),
        "joint_avg": mu,
        "joint_var": var,
        "joint_entr": hxy,
        "diff_avg": diff_avg,
        "diff_var": p_diff @ dvals**2 - diff_avg**2,
        "diff_entr": entropy_bits(p_diff, 1),
        "sum_avg": sum_avg,
        "sum_var": p_sum @ svals**2 - sum_avg**2,
        "sum_entr": entropy_bits(p_sum, 1),
        "energy": (flat**2).sum(1),
        "contrast": w[:, 0],
        "dissimilarity": w[:, 1],
        "inv_diff": w[:, 2],
        "inv_diff_norm": w[:, 3],
        "inv_diff_mom": w[:, 4],
        "inv_diff_mom_norm": w[:, 5],
        "inv_var": w[:, 6],
        "corr": corr,
        "auto_corr": w[:, 7],
        "clust_tend": pc2.sum(1),
        "clust_shade": (pc2 * c).sum(1),
        "clust_prom": (pc2 * c * c).sum(1),
        "info_corr1": info1,
        "info_corr2": info2,
    }


def glcm_feature_set(
    q: np.ndarray, mask: np.ndarray, ng: int, spaces, distance: int = 1,
    levels: np.ndarray | None = None, ng_nominal: int | None = None, lattice: Lattice | None = None,
) -> dict[str, float]:
    """``cm_*`` features for the requested texture spaces (``2D``, ``2.5D``, ``3D``).

    ``q`` may hold compact indices 1..ng of the grey levels present, with ``levels`` their
    grey-level values and ``ng_nominal`` the number of bins of the discretisation.
    ``lattice`` is the shared neighbour gather of ``q`` (built here when not given). The
    matrices of every variant go through :func:`glcm_features` as one stack.
    """
    values = np.arange(1, ng + 1) if levels is None else np.asarray(levels)
    ng_nominal = ng if ng_nominal is None else ng_nominal
    if lattice is None:
        lattice = build_lattice(q, mask, distance)
    variants = []
    if "2D" in spaces or "2.5D" in spaces:
        m2 = glcm_matrices(lattice, ng, DIRECTIONS_2D, distance)  # (nz, 4, Ng, Ng)
        if "2D" in spaces:
            variants += [("2D", "avg", m2.reshape(-1, ng, ng)), ("2D", "comb", m2.sum(1))]
        if "2.5D" in spaces:
            variants += [("2.5D", "avg", m2.sum(0)), ("2.5D", "comb", m2.sum((0, 1))[None])]
    if "3D" in spaces:
        m3 = glcm_matrices(lattice, ng, DIRECTIONS_3D, distance, per_slice=False)[0]  # (13, Ng, Ng)
        variants += [("3D", "avg", m3), ("3D", "comb", m3.sum(0)[None])]
    stack = np.concatenate([v[2] for v in variants])
    present = np.flatnonzero(stack.sum((0, 2)) > 0)  # drop empty grey levels (same values)
    keeps = [v[2].sum((1, 2)) > 0 for v in variants]
    if present.size == 0:  # no voxel pair at all (e.g. a one-voxel ROI): undefined
        nan = dict.fromkeys(glcm_features(np.zeros((1, 1, 1))), float("nan"))
        pooled = [nan] * len(variants)
    else:
        sub = stack[:, present][:, :, present]
        pooled = pool_groups(glcm_features(sub, values[present], ng_nominal), keeps)
    out: dict[str, float] = {}
    for (space, how, _), feats in zip(variants, pooled, strict=True):
        suffix = SUFFIX_DIRECTIONAL[(space, how)]
        out.update({f"cm_{k}{suffix}": v for k, v in feats.items()})
    return out
