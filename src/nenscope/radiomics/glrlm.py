"""Grey level run length matrix (GLRLM) features, IBSI-1 section 3.7.

A voxel starts a run when its predecessor along the direction is outside the ROI or has
another grey level; the run is followed while the grey level stays the same. The counting is
one compiled loop over the ROI voxels per direction (``_kernels.run_counts``): O(voxels).
"""

from __future__ import annotations

import numpy as np

from nenscope.radiomics._kernels import run_counts
from nenscope.radiomics._texture import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    SUFFIX_DIRECTIONAL,
    Lattice,
    build_lattice,
    pool_groups,
    runlike_features,
)

NAMES = {
    "se": "sre",
    "le": "lre",
    "lg": "lgre",
    "hg": "hgre",
    "slg": "srlge",
    "shg": "srhge",
    "llg": "lrlge",
    "lhg": "lrhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "jnu": "rlnu",
    "jnu_norm": "rlnu_norm",
    "perc": "r_perc",
    "gl_var": "gl_var",
    "j_var": "rl_var",
    "j_entr": "rl_entr",
}


def glrlm_matrices(lattice: Lattice, ng: int, directions, per_slice: bool) -> np.ndarray:
    """Run counts of shape (n_slices or 1, n_directions, Ng, Lmax), Lmax the longest run.

    A voxel starts a run along a direction when its predecessor is outside the ROI or has
    another grey level; the run goes on while its successor has the same level. One compiled
    pass per direction (:func:`~nenscope.radiomics._kernels.run_counts`).
    """
    nz = lattice.n_slices if per_slice else 1
    return run_counts(lattice.flat, lattice.roi, lattice.z, lattice.offsets(directions), ng, nz)


def glrlm_feature_set(
    q: np.ndarray,
    mask: np.ndarray,
    ng: int,
    spaces,
    levels: np.ndarray | None = None,
    lattice: Lattice | None = None,
) -> dict[str, float]:
    """``rlm_*`` features for the requested texture spaces (``levels``, ``lattice``: see GLCM).
    The matrices of every variant go through :func:`runlike_features` as one stack."""
    if lattice is None:
        lattice = build_lattice(q, mask)
    nv_slice = mask.reshape(mask.shape[0], -1).sum(1)
    nv = int(nv_slice.sum())
    variants = []
    if "2D" in spaces or "2.5D" in spaces:
        m2 = glrlm_matrices(lattice, ng, DIRECTIONS_2D, per_slice=True)
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
        m3 = glrlm_matrices(lattice, ng, DIRECTIONS_3D, per_slice=False)[0]
        nd = m3.shape[0]
        variants += [
            ("3D", "avg", m3, np.full(nd, nv)),
            ("3D", "comb", m3.sum(0)[None], np.array([nv * nd])),
        ]
    lmax = max(v[2].shape[-1] for v in variants)  # 2D and 3D runs: pad to one length axis
    stack = np.zeros((sum(v[2].shape[0] for v in variants), ng, lmax), dtype=np.int64)
    k = 0
    for v in variants:
        stack[k : k + v[2].shape[0], :, : v[2].shape[-1]] = v[2]
        k += v[2].shape[0]
    feats = runlike_features(stack, np.concatenate([v[3] for v in variants]), NAMES, levels)
    out: dict[str, float] = {}
    for (space, how, _, _), pooled in zip(
        variants, pool_groups(feats, [v[2].sum((1, 2)) > 0 for v in variants]), strict=True
    ):
        suffix = SUFFIX_DIRECTIONAL[(space, how)]
        out.update({f"rlm_{k}{suffix}": v for k, v in pooled.items()})
    return out
