"""Grey level size zone (GLSZM, IBSI-1 3.8) and distance zone (GLDZM, 3.9) matrices.

Zones are connected voxels of equal grey level (26-connected in 3D, 8-connected in 2D), labelled
by ``cc3d`` (it connects equal labels only, so one call labels every grey level). Zone size is a
bincount of the labels; zone distance is the minimum, over the zone, of the taxicab distance to
the ROI edge (6-/4-connected, 1 at the border), from ``scipy.ndimage.distance_transform_cdt``.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage

from nenscope.radiomics._texture import SUFFIX, pool, runlike_features

SZM_NAMES = {
    "se": "sze", "le": "lze", "lg": "lgze", "hg": "hgze", "slg": "szlge", "shg": "szhge",
    "llg": "lzlge", "lhg": "lzhge", "glnu": "glnu", "glnu_norm": "glnu_norm", "jnu": "zsnu",
    "jnu_norm": "zsnu_norm", "perc": "z_perc", "gl_var": "gl_var", "j_var": "zs_var",
    "j_entr": "zs_entr",
}
DZM_NAMES = {
    "se": "sde", "le": "lde", "lg": "lgze", "hg": "hgze", "slg": "sdlge", "shg": "sdhge",
    "llg": "ldlge", "lhg": "ldhge", "glnu": "glnu", "glnu_norm": "glnu_norm", "jnu": "zdnu",
    "jnu_norm": "zdnu_norm", "perc": "z_perc", "gl_var": "gl_var", "j_var": "zd_var",
    "j_entr": "zd_entr",
}


def _zones(levels: np.ndarray, dist: np.ndarray | None, connectivity: int):
    """Per zone (grey level, size, distance) of one labelled block (distance 1 for every zone
    when ``dist`` is None, i.e. no GLDZM asked for)."""
    labels, n = cc3d.connected_components(levels, connectivity=connectivity, return_N=True)
    lab = labels.ravel()
    sel = np.flatnonzero(lab)
    lab = lab[sel].astype(np.int64)
    size = np.bincount(lab, minlength=n + 1)[1:]
    gl = np.zeros(n + 1, dtype=np.int64)
    gl[lab] = levels.ravel()[sel]
    if dist is None:
        return gl[1:], size, np.ones(n, dtype=np.int64)
    dmin = np.full(n + 1, np.iinfo(np.int64).max)
    np.minimum.at(dmin, lab, dist.ravel()[sel].astype(np.int64))
    return gl[1:], size, dmin[1:]


def _zone_matrix(k: np.ndarray, gl: np.ndarray, j: np.ndarray, kz: int, ng: int):
    """(kz, Ng, n_j) zone counts over the j values present (zone sizes can reach the ROI size:
    no column per absent size) and those j values."""
    j_values, j_index = np.unique(j, return_inverse=True)
    nj = max(j_values.size, 1)
    m = np.bincount((k * ng + gl) * nj + j_index.ravel(), minlength=kz * ng * nj).reshape(kz, ng, nj)
    return m, (j_values if j_values.size else np.ones(1, dtype=np.int64))


def _edge_distance(mask: np.ndarray, two_d: bool) -> np.ndarray:
    padded = np.pad(mask, 1)
    if two_d:
        out = np.stack([ndimage.distance_transform_cdt(s, metric="taxicab") for s in padded])
    else:
        out = ndimage.distance_transform_cdt(padded, metric="taxicab")
    return out[1:-1, 1:-1, 1:-1]


def zone_feature_set(
    q: np.ndarray, int_mask: np.ndarray, morph_mask: np.ndarray, ng: int, spaces, families=("szm", "dzm"),
    levels: np.ndarray | None = None,
) -> dict[str, float]:
    """``szm_*`` and ``dzm_*`` features for the requested spaces.

    2D: one matrix per slice, features averaged over slices; 2.5D: the slice matrices merged;
    3D: one matrix over the volume. Distances come from the morphological mask.
    """
    grey = np.where(int_mask, q, 0).astype(np.uint32)
    out: dict[str, float] = {}
    blocks = []
    need_dist = "dzm" in families
    if "2D" in spaces or "2.5D" in spaces:
        dist2 = _edge_distance(morph_mask, two_d=True) if need_dist else None
        per_slice = [_zones(grey[z], None if dist2 is None else dist2[z], 8) for z in range(grey.shape[0])]
        blocks.append(("2D", per_slice))
    if "3D" in spaces:
        dist3 = _edge_distance(morph_mask, two_d=False) if need_dist else None
        blocks.append(("3D", [_zones(grey, dist3, 26)]))
    nv_slice = int_mask.reshape(int_mask.shape[0], -1).sum(1)
    for space, zlist in blocks:
        kz = len(zlist)
        kk = np.concatenate([np.full(z[0].size, k) for k, z in enumerate(zlist)])
        gl = np.concatenate([z[0] for z in zlist]) - 1
        nvox = nv_slice if space == "2D" else np.array([int(int_mask.sum())])
        for family, names, j in (("szm", SZM_NAMES, 1), ("dzm", DZM_NAMES, 2)):
            if family not in families:
                continue
            m, j_values = _zone_matrix(kk, gl, np.concatenate([z[j] for z in zlist]), kz, ng)
            targets = [("3D", m, nvox)] if space == "3D" else []
            if space == "2D" and "2D" in spaces:
                targets.append(("2D", m, nvox))
            if space == "2D" and "2.5D" in spaces:
                targets.append(("2.5D", m.sum(0)[None], np.array([nvox.sum()])))
            for name, stack, nv in targets:
                feats = pool(runlike_features(stack, nv, names, levels, j_values), stack.sum((1, 2)) > 0)
                out.update({f"{family}_{k}{SUFFIX[name]}": v for k, v in feats.items()})
    return out
