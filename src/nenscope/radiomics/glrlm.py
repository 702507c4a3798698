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
    """Run counts of shape (n_slices or 1, n_directions, Ng, Lmax).

    The runs of all directions grow together: one loop step per unit of run length, each step
    a gather over every run still alive (whatever its direction).
    """
    qp = padded_levels(q, mask, 1)
    strides = tuple(s // qp.itemsize for s in qp.strides)
    flat = qp.ravel()
    roi = np.flatnonzero(flat)
    g_roi = flat[roi]
    offs = np.array([flat_offset(d, strides) for d in directions], dtype=np.int64)
    # run starts: predecessor along the direction outside the ROI or of another grey level
    is_start = flat[roi[:, None] - offs[None, :]] != g_roi[:, None]  # (N, n_directions)
    vox, dirs = np.nonzero(is_start)
    starts = roi[vox]
    g = g_roi[vox].astype(np.int64)
    step = offs[dirs]
    length = np.ones(starts.size, dtype=np.int64)
    alive = np.arange(starts.size)
    cur = starts
    while alive.size:
        nxt = cur + step[alive]
        keep = flat[nxt] == g[alive]
        alive, cur = alive[keep], nxt[keep]
        length[alive] += 1
    lmax = int(length.max()) if length.size else 1
    nz = q.shape[0] if per_slice else 1
    nd = len(directions)
    z = (starts // strides[0] - 1) if per_slice else 0
    packed = ((z * nd + dirs) * ng + (g - 1)) * lmax + (length - 1)
    return np.bincount(packed, minlength=nz * nd * ng * lmax).reshape(nz, nd, ng, lmax)


def glrlm_feature_set(
    q: np.ndarray, mask: np.ndarray, ng: int, spaces, levels: np.ndarray | None = None
) -> dict[str, float]:
    """``rlm_*`` features for the requested texture spaces (``levels``: see GLCM)."""
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
        feats = pool(runlike_features(stack, nvox, NAMES, levels), keep)
        suffix = SUFFIX_DIRECTIONAL[(space, how)]
        out.update({f"rlm_{k}{suffix}": v for k, v in feats.items()})
    return out
