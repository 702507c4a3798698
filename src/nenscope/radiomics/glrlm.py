"""Grey level run length matrix (GLRLM) features, IBSI-1 section 3.7.

Runs are found for all ROI voxels at once: a voxel starts a run when its predecessor along the
direction is outside the ROI or has another grey level; all runs then grow together, one step
per iteration, so the work is O(voxels) per direction with no per-voxel Python loop.
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
    runlike_features,
)

NAMES = {
    "se": "sre", "le": "lre", "lg": "lgre", "hg": "hgre", "slg": "srlge", "shg": "srhge",
    "llg": "lrlge", "lhg": "lrhge", "glnu": "glnu", "glnu_norm": "glnu_norm", "jnu": "rlnu",
    "jnu_norm": "rlnu_norm", "perc": "r_perc", "gl_var": "gl_var", "j_var": "rl_var",
    "j_entr": "rl_entr",
}


def glrlm_matrices(q: np.ndarray, mask: np.ndarray, ng: int, directions, per_slice: bool) -> np.ndarray:
    """Run counts of shape (n_slices or 1, n_directions, Ng, Lmax)."""
    qp = padded_levels(q, mask, 1)
    strides = tuple(s // qp.itemsize for s in qp.strides)
    flat = qp.ravel()
    roi = np.flatnonzero(flat)
    g_roi = flat[roi]
    lmax = max(q.shape)
    nz = q.shape[0] if per_slice else 1
    nd = len(directions)
    counts = np.zeros(nz * nd * ng * lmax, dtype=np.int64)
    for di, d in enumerate(directions):
        off = flat_offset(d, strides)
        starts = roi[flat[roi - off] != g_roi]
        g = flat[starts].astype(np.int64)
        length = np.ones(starts.size, dtype=np.int64)
        alive = np.arange(starts.size)
        cur = starts
        while alive.size:
            nxt = cur + off
            keep = flat[nxt] == g[alive]
            alive, cur = alive[keep], nxt[keep]
            length[alive] += 1
        z = (starts // strides[0] - 1) if per_slice else np.zeros(starts.size, dtype=np.int64)
        packed = ((z * nd + di) * ng + (g - 1)) * lmax + (length - 1)
        counts += np.bincount(packed, minlength=counts.size)
    return counts.reshape(nz, nd, ng, lmax)


def glrlm_feature_set(q: np.ndarray, mask: np.ndarray, ng: int, spaces) -> dict[str, float]:
    """``rlm_*`` features for the requested texture spaces."""
    out: dict[str, float] = {}
    nv_slice = mask.reshape(mask.shape[0], -1).sum(1)
    nv = int(mask.sum())
    variants = []
    if "2D" in spaces or "2.5D" in spaces:
        m2 = glrlm_matrices(q, mask, ng, DIRECTIONS_2D, per_slice=True)
        nd = m2.shape[1]
        if "2D" in spaces:
            variants += [
                ("2D", "avg", m2.reshape(-1, *m2.shape[2:]), np.repeat(nv_slice, nd)),
                ("2D", "comb", m2.sum(1), nv_slice * nd),
            ]
        if "2.5D" in spaces:
            variants += [
                ("2.5D", "avg", m2.sum(0), np.full(nd, nv)),
                ("2.5D", "comb", m2.sum((0, 1))[None], np.array([nv * nd])),
            ]
    if "3D" in spaces:
        m3 = glrlm_matrices(q, mask, ng, DIRECTIONS_3D, per_slice=False)[0]
        nd = m3.shape[0]
        variants += [("3D", "avg", m3, np.full(nd, nv)), ("3D", "comb", m3.sum(0)[None], np.array([nv * nd]))]
    for space, how, stack, nvox in variants:
        keep = stack.sum((1, 2)) > 0
        feats = pool(runlike_features(stack, nvox, NAMES), keep)
        suffix = SUFFIX_DIRECTIONAL[(space, how)]
        out.update({f"rlm_{k}{suffix}": v for k, v in feats.items()})
    return out
