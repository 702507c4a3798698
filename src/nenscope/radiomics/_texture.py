"""Shared pieces of the texture matrices: neighbour directions, the padded grey-level lattice,
flat neighbour offsets, pooled features and the formulas shared by the run/zone families.

The matrices themselves are counted by compiled loops over the ROI voxels
(:mod:`nenscope.radiomics._kernels`) that read the zero-padded, flattened grey-level volume of
:class:`Lattice` through flat neighbour offsets: one pass per family, no per-voxel Python.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from nenscope.radiomics._kernels import RUNLIKE_FEATURES, pool_rows, runlike_stack_features

# IBSI-1 3.6: 13 unique 3D directions (first non-zero component positive); 4 in-plane ones.
DIRECTIONS_3D = tuple(
    d
    for d in itertools.product((-1, 0, 1), repeat=3)
    if d != (0, 0, 0) and d[next(i for i in range(3) if d[i])] > 0
)
DIRECTIONS_2D = ((0, 0, 1), (0, 1, -1), (0, 1, 0), (0, 1, 1))
NEIGHBOURS_3D = tuple(d for d in itertools.product((-1, 0, 1), repeat=3) if d != (0, 0, 0))
NEIGHBOURS_2D = tuple(d for d in NEIGHBOURS_3D if d[0] == 0)

SUFFIX_DIRECTIONAL = {
    ("2D", "avg"): "_2D_avg",
    ("2D", "comb"): "_2D_comb",
    ("2.5D", "avg"): "_2_5D_avg",
    ("2.5D", "comb"): "_2_5D_comb",
    ("3D", "avg"): "_3D_avg",
    ("3D", "comb"): "_3D_comb",
}
SUFFIX = {"2D": "_2D", "2.5D": "_2_5D", "3D": "_3D"}


def padded_levels(q: np.ndarray, mask: np.ndarray, pad: int) -> np.ndarray:
    """Grey levels with 0 outside the ROI, zero-padded by ``pad`` voxels on every side, in the
    smallest unsigned integer type that holds them (less memory for every gather)."""
    top = int(q.max()) if q.size else 0
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
    out = np.zeros(tuple(s + 2 * pad for s in q.shape), dtype=dtype)
    inner = tuple(slice(pad, pad + s) for s in q.shape)
    out[inner] = np.where(mask, q, 0)
    return out


def pad_zeros(a: np.ndarray, dtype=None) -> np.ndarray:
    """``a`` with one voxel of zeros on every side (``np.pad(a, 1)`` without its per-call
    overhead, which matters at the few-millisecond scale of one lesion)."""
    out = np.zeros(tuple(k + 2 for k in a.shape), dtype=a.dtype if dtype is None else dtype)
    out[tuple(slice(1, k + 1) for k in a.shape)] = a
    return out


def flat_offset(direction, strides: tuple[int, ...], distance: int = 1) -> int:
    """Offset in the flattened (C-order) array of one step along ``direction``."""
    d0, d1, d2 = direction
    return (d0 * strides[0] + d1 * strides[1] + d2 * strides[2]) * distance


@functools.lru_cache(maxsize=256)
def flat_offsets(directions: tuple, strides: tuple[int, ...]) -> np.ndarray:
    """Flat offsets (int64, read-only) of the steps ``directions`` for ``strides``; cached
    (the same few direction sets recur for every lesion of a given box shape)."""
    out = np.array([flat_offset(d, strides) for d in directions], dtype=np.int64)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Lattice:
    """ROI voxels of the zero-padded grey-level volume (0 = outside the ROI), as the compiled
    matrix kernels read it: a neighbour at step d of voxel p is ``flat[p + offset(d)]``, and
    the padding keeps every such read inside the array.

    ``flat`` is the padded volume flattened (C order), ``roi`` the flat indices of the ROI
    voxels (ascending), ``g`` their grey levels, ``z`` their slice index, ``pad`` the padding
    (the largest neighbour distance any family asks for).
    """

    flat: np.ndarray
    roi: np.ndarray
    g: np.ndarray
    z: np.ndarray
    strides: tuple[int, int, int]
    pad: int
    n_slices: int

    def offsets(self, directions) -> np.ndarray:
        """Flat offsets (int64) of the steps ``directions`` (dz, dy, dx) in ``flat``."""
        return flat_offsets(tuple(tuple(d) for d in directions), self.strides)


def build_lattice(q: np.ndarray, mask: np.ndarray, pad: int = 1) -> Lattice:
    """:class:`Lattice` of grey levels ``q`` (1..Ng) in ``mask``, padded by ``pad`` voxels."""
    pad = max(pad, 1)
    qp = padded_levels(q, mask, pad)
    strides = tuple(s // qp.itemsize for s in qp.strides)
    flat = qp.ravel()
    roi = np.flatnonzero(flat)
    return Lattice(flat, roi, flat[roi], roi // strides[0] - pad, strides, pad, q.shape[0])


def pool(values: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, float]:
    """Average per-matrix feature values over the non-empty matrices (one compiled pass).

    A value undefined for one matrix (e.g. GLCM correlation of a slice with a single grey
    level, 0/0) is left out of that average instead of turning it into NaN.
    """
    return pool_groups(values, [keep])[0]


def pool_groups(values: dict[str, np.ndarray], keeps: list[np.ndarray]) -> list[dict[str, float]]:
    """:func:`pool` for consecutive groups of matrices (e.g. the 13 directional matrices and
    the merged one, computed as one stack): ``keeps[k]`` flags the non-empty matrices of group
    k; the groups split the stack in order."""
    names = list(values)
    arr = np.array([values[n] for n in names], dtype=np.float64).reshape(len(names), -1)
    bounds = np.array([0, *itertools.accumulate(k.size for k in keeps)], dtype=np.int64)
    means = pool_rows(arr, np.concatenate(keeps).astype(np.bool_), bounds)
    return [dict(zip(names, means[:, g].tolist(), strict=True)) for g in range(len(keeps))]


def runlike_features(
    m: np.ndarray,
    n_voxels: np.ndarray,
    names: dict[str, str],
    levels: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Features shared by GLRLM, GLSZM, GLDZM and NGLDM for a stack ``m`` of shape (K, Ng, Nj).

    ``i`` (grey level) and ``j`` (run length, zone size, distance or dependence count) start at
    1. ``n_voxels`` (K,) is the voxel count behind each matrix (merged matrices count every
    merged direction). ``names`` maps the generic names to the family's IBSI names;
    ``levels`` gives the grey-level value of each row when rows are compact indices, ``lengths``
    the j value of each column when columns are compact (e.g. only the zone sizes present).
    IBSI-1 sections 3.7-3.11 give the formulas; they run as one compiled loop over the stack
    (:func:`~nenscope.radiomics._kernels.runlike_stack_features`).
    """
    m = np.ascontiguousarray(m, dtype=np.float64)
    i = (
        np.arange(1.0, m.shape[1] + 1)
        if levels is None
        else np.asarray(levels, dtype=np.float64)[: m.shape[1]]
    )
    j = (
        np.arange(1.0, m.shape[2] + 1)
        if lengths is None
        else np.asarray(lengths, dtype=np.float64)[: m.shape[2]]
    )
    rows = runlike_stack_features(
        m,
        np.ascontiguousarray(i),
        np.ascontiguousarray(j),
        np.asarray(n_voxels, dtype=np.float64).reshape(-1),
    )
    return {names[key]: v for key, v in zip(RUNLIKE_FEATURES, rows, strict=True) if key in names}
