"""Grey level co-occurrence matrix (GLCM) features, IBSI-1 section 3.6.

All six aggregation variants: 2D averaged / slice-merged, 2.5D direction-merged / merged,
3D averaged / merged. Matrices are symmetric (each pair counted in both orders).
"""

from __future__ import annotations

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.radiomics._kernels import GLCM_FEATURES, glcm_counts, glcm_stack_features
from nenscope.radiomics._texture import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    SUFFIX_DIRECTIONAL,
    Lattice,
    build_lattice,
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
            "discretisation (larger bin_width or a fixed bin number) suited to the image units"
        )
    offs = lattice.offsets([tuple(distance * c for c in d) for d in directions])
    return glcm_counts(lattice.flat, lattice.roi, lattice.z, offs, ng, nz)


def glcm_features(
    m: np.ndarray, levels: np.ndarray | None = None, ng: int | None = None
) -> dict[str, np.ndarray]:
    """IBSI GLCM features for a stack of symmetric matrices (K, n, n); arrays of length K.

    ``levels`` are the grey levels of the rows (default 1..n) so that empty grey levels can be
    dropped before the call; ``ng`` is the nominal number of grey levels (used by the
    normalised inverse differences, default n). The formulas run as one compiled loop over
    the stack (:func:`~nenscope.radiomics._kernels.glcm_stack_features`).
    """
    m = np.ascontiguousarray(m, dtype=np.int64 if m.dtype == np.int64 else np.float64)
    n = m.shape[1]
    g = np.arange(1.0, n + 1) if levels is None else np.asarray(levels, dtype=np.float64)
    rows = glcm_stack_features(m, np.ascontiguousarray(g), float(n if ng is None else ng))
    return dict(zip(GLCM_FEATURES, rows, strict=True))


def glcm_feature_set(
    q: np.ndarray,
    mask: np.ndarray,
    ng: int,
    spaces,
    distance: int = 1,
    levels: np.ndarray | None = None,
    ng_nominal: int | None = None,
    lattice: Lattice | None = None,
) -> dict[str, float]:
    """``cm_*`` features for the requested texture spaces (``2D``, ``2.5D``, ``3D``).

    ``q`` may hold compact indices 1..ng of the grey levels present, with ``levels`` their
    grey-level values and ``ng_nominal`` the number of bins of the discretisation.
    ``lattice`` is the shared padded grey-level lattice of ``q`` (built here when not given). The
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
    keeps = [v[2].any((1, 2)) for v in variants]
    if not any(k.any() for k in keeps):  # no voxel pair at all (e.g. a one-voxel ROI): undefined
        nan = dict.fromkeys(GLCM_FEATURES, float("nan"))
        pooled = [nan] * len(variants)
    else:  # empty grey levels add nothing to any sum: no need to drop them
        pooled = pool_groups(glcm_features(stack, values, ng_nominal), keeps)
    out: dict[str, float] = {}
    for (space, how, _), feats in zip(variants, pooled, strict=True):
        suffix = SUFFIX_DIRECTIONAL[(space, how)]
        out.update({f"cm_{k}{suffix}": v for k, v in feats.items()})
    return out
