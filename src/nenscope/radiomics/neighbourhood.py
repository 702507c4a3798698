"""Neighbourhood grey tone difference (NGTDM, IBSI-1 3.10) and neighbouring grey level
dependence (NGLDM, 3.11) matrices.

Both read the grey levels of the 26 (3D) or 8 (2D) neighbours of every ROI voxel (0 = outside
the ROI, ignored as a neighbour) and reduce them per voxel, in one compiled pass over the ROI
that fills both matrices (``_kernels.neighbourhood_counts``).
"""

from __future__ import annotations

import itertools

import numpy as np

from nenscope.radiomics._kernels import NGTDM_FEATURES, neighbourhood_counts, ngtdm_stack_features
from nenscope.radiomics._texture import SUFFIX, Lattice, build_lattice, pool, runlike_features

NGL_NAMES = {
    "se": "lde",
    "le": "hde",
    "lg": "lgce",
    "hg": "hgce",
    "slg": "ldlge",
    "shg": "ldhge",
    "llg": "hdlge",
    "lhg": "hdhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "jnu": "dcnu",
    "jnu_norm": "dcnu_norm",
    "perc": "dc_perc",
    "gl_var": "gl_var",
    "j_var": "dc_var",
    "j_entr": "dc_entr",
    "energy": "dc_energy",
}


def _offsets(distance: int, two_d: bool):
    r = range(-distance, distance + 1)
    zr = (0,) if two_d else r
    return [d for d in itertools.product(zr, r, r) if d != (0, 0, 0)]


def ngtdm_features(
    s: np.ndarray, n: np.ndarray, levels: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """NGTDM features for stacks ``s`` (K, Ng) of grey-tone sums and ``n`` (K, Ng) counts;
    ``levels`` are the grey levels of the columns (default 1..Ng). One compiled loop over the
    stack (``_kernels.ngtdm_stack_features``)."""
    s = np.ascontiguousarray(s, dtype=np.float64)
    i = (
        np.arange(1.0, s.shape[1] + 1)
        if levels is None
        else np.asarray(levels, dtype=np.float64)[: s.shape[1]]
    )
    rows = ngtdm_stack_features(
        s, np.ascontiguousarray(n, dtype=np.float64), np.ascontiguousarray(i)
    )
    return dict(zip(NGTDM_FEATURES, rows, strict=True))


def neighbourhood_feature_set(
    q: np.ndarray,
    mask: np.ndarray,
    ng: int,
    spaces,
    *,
    ngtdm_distance: int = 1,
    ngldm_distance: int = 1,
    ngldm_alpha: int = 0,
    families=("ngt", "ngl"),
    levels: np.ndarray | None = None,
    lattice: Lattice | None = None,
) -> dict[str, float]:
    """``ngt_*`` and ``ngl_*`` features for the requested texture spaces (``levels``,
    ``lattice``: see GLCM)."""
    if lattice is None:
        lattice = build_lattice(q, mask, max(ngtdm_distance, ngldm_distance))
    values = np.arange(ng + 1) if levels is None else np.concatenate([[0], np.asarray(levels)])
    values = values.astype(np.int64)
    out: dict[str, float] = {}
    nz = q.shape[0]
    for two_d, names in ((True, ("2D", "2.5D")), (False, ("3D",))):
        wanted = [s for s in names if s in spaces]
        if not wanted:
            continue
        kz = nz if two_d else 1

        def counts(distance, two_d=two_d, kz=kz):
            offs = lattice.offsets(_offsets(distance, two_d))
            return neighbourhood_counts(
                lattice.flat, lattice.roi, lattice.z, offs, values, ngldm_alpha, ng, kz
            )

        if "ngt" in families:
            s, n, dep = counts(ngtdm_distance)  # voxels without ROI neighbours left out (IBSI 3.10)
            for space in wanted:
                ss, nn = (s.sum(0)[None], n.sum(0)[None]) if space == "2.5D" else (s, n)
                feats = pool(ngtdm_features(ss, nn, levels), nn.sum(1) > 0)
                out.update({f"ngt_{k}{SUFFIX[space]}": v for k, v in feats.items()})
        if "ngl" in families:
            if not ("ngt" in families and ngtdm_distance == ngldm_distance):  # else reuse the pass
                _, _, dep = counts(ngldm_distance)
            m = dep
            nv = np.bincount(lattice.z if two_d else np.zeros_like(lattice.z), minlength=kz)
            for space in wanted:
                mm, nn = (m.sum(0)[None], np.array([nv.sum()])) if space == "2.5D" else (m, nv)
                feats = pool(runlike_features(mm, nn, NGL_NAMES, levels), mm.sum((1, 2)) > 0)
                out.update({f"ngl_{k}{SUFFIX[space]}": v for k, v in feats.items()})
    return out
