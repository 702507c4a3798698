"""Grey level co-occurrence matrix (GLCM) features, IBSI-1 section 3.6.

All six aggregation variants: 2D averaged / slice-merged, 2.5D direction-merged / merged,
3D averaged / merged. Matrices are symmetric (each pair counted in both orders).
"""

from __future__ import annotations

import numpy as np

from nenscope.radiomics._texture import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    SUFFIX_DIRECTIONAL,
    flat_offset,
    padded_levels,
    pool,
)


def glcm_matrices(
    q: np.ndarray, mask: np.ndarray, ng: int, directions, distance: int = 1, per_slice: bool = True
) -> np.ndarray:
    """Co-occurrence counts of shape (n_slices or 1, n_directions, Ng, Ng), symmetrised.

    Pairs are (voxel, voxel + distance·direction) with both voxels in the ROI. One bincount
    over packed (slice, direction, i, j) indices.
    """
    qp = padded_levels(q, mask, distance)
    strides = tuple(s // qp.itemsize for s in qp.strides)
    flat = qp.ravel()
    roi = np.flatnonzero(flat)
    a = flat[roi].astype(np.int64) - 1
    if per_slice:
        z = roi // strides[0] - distance
        nz = q.shape[0]
    else:
        z = np.zeros(roi.size, dtype=np.int64)
        nz = 1
    nd = len(directions)
    counts = np.zeros(nz * nd * ng * ng, dtype=np.int64)
    for di, d in enumerate(directions):
        b = flat[roi + flat_offset(d, strides, distance)].astype(np.int64) - 1
        ok = b >= 0
        packed = ((z[ok] * nd + di) * ng + a[ok]) * ng + b[ok]
        counts += np.bincount(packed, minlength=counts.size)
    m = counts.reshape(nz, nd, ng, ng)
    return m + m.transpose(0, 1, 3, 2)


def glcm_features(m: np.ndarray) -> dict[str, np.ndarray]:
    """IBSI GLCM features for a stack of matrices (K, Ng, Ng); returns arrays of length K."""
    m = m.astype(np.float64)
    k, ng, _ = m.shape
    tot = m.sum(axis=(1, 2))
    p = m / np.where(tot > 0, tot, 1)[:, None, None]
    i = np.arange(1, ng + 1, dtype=np.float64)
    ii, jj = i[:, None], i[None, :]
    pi = p.sum(2)
    pj = p.sum(1)
    mu_i = (pi * i).sum(1)
    mu_j = (pj * i).sum(1)
    sd_i = np.sqrt((pi * (i - mu_i[:, None]) ** 2).sum(1))
    sd_j = np.sqrt((pj * (i - mu_j[:, None]) ** 2).sum(1))
    diff = np.abs(ii - jj).astype(int)
    summ = (ii + jj).astype(int) - 2
    # diagonal / cross-diagonal probabilities via bincount on packed (matrix, k) indices
    kk = np.arange(k)[:, None, None]
    p_diff = np.bincount((kk * ng + diff[None]).ravel(), weights=p.ravel(), minlength=k * ng).reshape(k, ng)
    p_sum = np.bincount((kk * (2 * ng - 1) + summ[None]).ravel(), weights=p.ravel(),
                        minlength=k * (2 * ng - 1)).reshape(k, 2 * ng - 1)
    kd = np.arange(ng, dtype=np.float64)
    ks = np.arange(2, 2 * ng + 1, dtype=np.float64)

    def entropy(x, axes):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(x > 0, x * np.log2(np.where(x > 0, x, 1)), 0).sum(axes)

    mu = (p * ii).sum((1, 2))
    diff_avg = (p_diff * kd).sum(1)
    sum_avg = (p_sum * ks).sum(1)
    d2 = (ii - jj) ** 2
    cl = ii + jj - mu_i[:, None, None] - mu_j[:, None, None]
    hxy = entropy(p, (1, 2))
    hx = entropy(pi, 1)
    hy = entropy(pj, 1)
    pipj = pi[:, :, None] * pj[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        logpipj = np.where(pipj > 0, np.log2(np.where(pipj > 0, pipj, 1)), 0)
        hxy1 = -(p * logpipj).sum((1, 2))
        hxy2 = -(pipj * logpipj).sum((1, 2))
        corr = ((p * (ii - mu_i[:, None, None]) * (jj - mu_j[:, None, None])).sum((1, 2))) / (sd_i * sd_j)
        info1 = (hxy - hxy1) / np.maximum(hx, hy)
    info2 = np.sqrt(np.clip(1 - np.exp(-2 * (hxy2 - hxy)), 0, None))
    off = d2 > 0
    return {
        "joint_max": p.max((1, 2)),
        "joint_avg": mu,
        "joint_var": (p * (ii - mu[:, None, None]) ** 2).sum((1, 2)),
        "joint_entr": hxy,
        "diff_avg": diff_avg,
        "diff_var": (p_diff * (kd - diff_avg[:, None]) ** 2).sum(1),
        "diff_entr": entropy(p_diff, 1),
        "sum_avg": sum_avg,
        "sum_var": (p_sum * (ks - sum_avg[:, None]) ** 2).sum(1),
        "sum_entr": entropy(p_sum, 1),
        "energy": (p**2).sum((1, 2)),
        "contrast": (p * d2).sum((1, 2)),
        "dissimilarity": (p * np.sqrt(d2)).sum((1, 2)),
        "inv_diff": (p / (1 + np.sqrt(d2))).sum((1, 2)),
        "inv_diff_norm": (p / (1 + np.sqrt(d2) / ng)).sum((1, 2)),
        "inv_diff_mom": (p / (1 + d2)).sum((1, 2)),
        "inv_diff_mom_norm": (p / (1 + d2 / ng**2)).sum((1, 2)),
        "inv_var": (np.where(off, p, 0) / np.where(off, d2, 1)).sum((1, 2)),
        "corr": corr,
        "auto_corr": (p * ii * jj).sum((1, 2)),
        "clust_tend": (p * cl**2).sum((1, 2)),
        "clust_shade": (p * cl**3).sum((1, 2)),
        "clust_prom": (p * cl**4).sum((1, 2)),
        "info_corr1": info1,
        "info_corr2": info2,
    }


def glcm_feature_set(q: np.ndarray, mask: np.ndarray, ng: int, spaces, distance: int = 1) -> dict[str, float]:
    """``cm_*`` features for the requested texture spaces (``2D``, ``2.5D``, ``3D``)."""
    out: dict[str, float] = {}
    variants = []
    if "2D" in spaces or "2.5D" in spaces:
        m2 = glcm_matrices(q, mask, ng, DIRECTIONS_2D, distance)  # (nz, 4, Ng, Ng)
        if "2D" in spaces:
            variants += [("2D", "avg", m2.reshape(-1, ng, ng)), ("2D", "comb", m2.sum(1))]
        if "2.5D" in spaces:
            variants += [("2.5D", "avg", m2.sum(0)), ("2.5D", "comb", m2.sum((0, 1))[None])]
    if "3D" in spaces:
        m3 = glcm_matrices(q, mask, ng, DIRECTIONS_3D, distance, per_slice=False)[0]  # (13, Ng, Ng)
        variants += [("3D", "avg", m3), ("3D", "comb", m3.sum(0)[None])]
    for space, how, stack in variants:
        keep = stack.sum((1, 2)) > 0
        feats = pool(glcm_features(stack), keep)
        suffix = SUFFIX_DIRECTIONAL[(space, how)]
        out.update({f"cm_{k}{suffix}": v for k, v in feats.items()})
    return out
