"""Compiled (Numba) kernels for the hot loops of the radiomics engine.

Why hand-written: no library builds IBSI texture matrices (pyradiomics' C extension is tied to
its own pipeline and definitions), and the vectorised NumPy versions of these passes cost
dozens of array calls each (gather, compare, pack, bincount per direction group), which for
a typical lesion of a few thousand voxels is dominated by per-call overhead rather than by
data work. One compiled loop over the ROI voxels per family does the same counting with no
intermediate arrays. Every kernel reproduces its NumPy predecessor exactly (integer counts;
float sums in the same voxel order), so feature values are unchanged.

All kernels work on the zero-padded, flattened grey-level volume of :class:`Lattice`
(``flat``: 0 outside the ROI, compact grey-level indices 1..Ng inside; ``roi``: flat indices
of the ROI voxels, ascending; ``z``: their slice index) and flat neighbour offsets.

``cache=True`` stores the machine code next to this file (``__pycache__``); where that is not
writable (read-only install) Numba silently compiles once per process instead.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def glcm_counts(flat, roi, z, offs, ng, nz):
    """Symmetric co-occurrence counts (nz, n_directions, Ng, Ng): for every ROI voxel and
    offset, the pair (voxel, voxel + offset) when both lie in the ROI, counted in both orders.
    ``nz`` = 1 pools every slice (``z`` ignored)."""
    nd = offs.size
    m = np.zeros((nz, nd, ng, ng), dtype=np.int64)
    for v in range(roi.size):
        p = roi[v]
        i = np.int64(flat[p]) - 1
        k = z[v] if nz > 1 else 0
        for d in range(nd):
            j = np.int64(flat[p + offs[d]]) - 1
            if j >= 0:
                m[k, d, i, j] += 1
                m[k, d, j, i] += 1
    return m


@numba.njit(**_JIT)
def run_counts(flat, roi, z, offs, ng, nz):
    """Run-length counts (nz, n_directions, Ng, Lmax): a run starts at a ROI voxel whose
    predecessor along the direction has another grey level (or lies outside the ROI, level
    0) and goes on while the successor has the same level. Lmax is the longest run found."""
    nd = offs.size
    lmax = 1
    for d in range(nd):  # first pass: longest run (sizes the matrix)
        o = offs[d]
        for v in range(roi.size):
            p = roi[v]
            g = flat[p]
            if flat[p - o] == g:
                continue
            n = 1
            while flat[p + n * o] == g:
                n += 1
            if n > lmax:
                lmax = n
    m = np.zeros((nz, nd, ng, lmax), dtype=np.int64)
    for d in range(nd):
        o = offs[d]
        for v in range(roi.size):
            p = roi[v]
            g = flat[p]
            if flat[p - o] == g:
                continue
            n = 1
            while flat[p + n * o] == g:
                n += 1
            m[z[v] if nz > 1 else 0, d, np.int64(g) - 1, n - 1] += 1
    return m


@numba.njit(**_JIT)
def neighbourhood_counts(flat, roi, z, offs, values, alpha, ng, nz):
    """NGTDM sums and counts and the NGLDM dependence matrix in one pass over the ROI.

    Per voxel: the neighbours at ``offs`` inside the ROI, their grey-level values
    (``values[index]``, ``values[0] = 0``), and the dependence count (1 + neighbours within
    ``alpha`` of the voxel's value; equal indices when ``alpha`` = 0). Returns
    ``s`` (nz, Ng): Σ |value − mean of neighbour values| over voxels with at least one ROI
    neighbour, ``n`` (nz, Ng): the number of those voxels, and ``dep`` (nz, Ng, Jmax): voxels
    per dependence count 1..Jmax, Jmax the largest count found.
    """
    nn = offs.size
    s = np.zeros((nz, ng))
    n = np.zeros((nz, ng))
    dep_all = np.zeros((nz, ng, nn + 1), dtype=np.int64)
    jmax = 1
    for v in range(roi.size):
        p = roi[v]
        gi = np.int64(flat[p])
        gv = values[gi]
        k = z[v] if nz > 1 else 0
        count = 0
        total = 0
        dep = 1
        for d in range(nn):
            h = np.int64(flat[p + offs[d]])
            if h > 0:
                count += 1
                hv = values[h]
                total += hv
                if alpha == 0:
                    if h == gi:
                        dep += 1
                elif abs(hv - gv) <= alpha:
                    dep += 1
        if count > 0:
            s[k, gi - 1] += abs(gv - total / count)
            n[k, gi - 1] += 1.0
        dep_all[k, gi - 1, dep - 1] += 1
        if dep > jmax:
            jmax = dep
    return s, n, dep_all[:, :, :jmax].copy()
