"""Grey level size zone (GLSZM, IBSI-1 3.8) and distance zone (GLDZM, 3.9) matrices.

Zones are connected voxels of equal grey level (26-connected in 3D, 8-connected in 2D), found by
one compiled flood fill per zone (``_kernels.zone_list``; it yields size, grey level and
minimum distance of each zone in the same pass, where a labelling library such as cc3d needs
several array passes afterwards). Zone distance is the minimum, over the zone, of the taxicab
distance to the ROI edge (6-/4-connected, 1 at the border), from
``scipy.ndimage.distance_transform_cdt``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nenscope.radiomics._kernels import zone_list
from nenscope.radiomics._texture import (
    NEIGHBOURS_2D,
    NEIGHBOURS_3D,
    SUFFIX,
    flat_offsets,
    pad_zeros,
    pool,
    runlike_features,
)

SZM_NAMES = {
    "se": "sze",
    "le": "lze",
    "lg": "lgze",
    "hg": "hgze",
    "slg": "szlge",
    "shg": "szhge",
    "llg": "lzlge",
    "lhg": "lzhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "jnu": "zsnu",
    "jnu_norm": "zsnu_norm",
    "perc": "z_perc",
    "gl_var": "gl_var",
    "j_var": "zs_var",
    "j_entr": "zs_entr",
}
DZM_NAMES = {
    "se": "sde",
    "le": "lde",
    "lg": "lgze",
    "hg": "hgze",
    "slg": "sdlge",
    "shg": "sdhge",
    "llg": "ldlge",
    "lhg": "ldhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "jnu": "zdnu",
    "jnu_norm": "zdnu_norm",
    "perc": "z_perc",
    "gl_var": "gl_var",
    "j_var": "zd_var",
    "j_entr": "zd_entr",
}


def _zone_matrix(k: np.ndarray, gl: np.ndarray, j: np.ndarray, kz: int, ng: int):
    """(kz, Ng, n_j) zone counts over the j values present (zone sizes can reach the ROI size:
    no column per absent size) and those j values."""
    j_values, j_index = np.unique(j, return_inverse=True)
    nj = max(j_values.size, 1)
    m = np.bincount((k * ng + gl) * nj + j_index.ravel(), minlength=kz * ng * nj).reshape(
        kz, ng, nj
    )
    return m, (j_values if j_values.size else np.ones(1, dtype=np.int64))


def _edge_distance(mask: np.ndarray, two_d: bool) -> np.ndarray:
    padded = np.pad(mask, 1)
    if two_d:
        out = np.stack([ndimage.distance_transform_cdt(s, metric="taxicab") for s in padded])
    else:
        out = ndimage.distance_transform_cdt(padded, metric="taxicab")
    return out[1:-1, 1:-1, 1:-1]


def zone_feature_set(
    q: np.ndarray,
    int_mask: np.ndarray,
    morph_mask: np.ndarray,
    ng: int,
    spaces,
    families=("szm", "dzm"),
    levels: np.ndarray | None = None,
) -> dict[str, float]:
    """``szm_*`` and ``dzm_*`` features for the requested spaces.

    2D: one matrix per slice, features averaged over slices; 2.5D: the slice matrices merged;
    3D: one matrix over the volume. Distances come from the morphological mask.
    """
    grey = pad_zeros(np.where(int_mask, q, 0), np.int64)
    flat = grey.ravel()
    slice_size = grey.shape[1] * grey.shape[2]
    out: dict[str, float] = {}
    blocks = []
    need_dist = "dzm" in families
    no_dist = np.zeros(0, dtype=np.int64)
    for space, neighbours in (("2D", NEIGHBOURS_2D), ("3D", NEIGHBOURS_3D)):
        two_d = space == "2D"
        if (two_d and not ("2D" in spaces or "2.5D" in spaces)) or (
            not two_d and "3D" not in spaces
        ):
            continue
        dist = (
            pad_zeros(_edge_distance(morph_mask, two_d), np.int64).ravel() if need_dist else no_dist
        )
        offs = flat_offsets(neighbours, (slice_size, grey.shape[2], 1))
        gl, size, zslice, dmin = zone_list(flat, dist, offs, slice_size)
        blocks.append(
            (
                space,
                grey.shape[0] - 2 if two_d else 1,
                zslice - 1 if two_d else np.zeros_like(zslice),
                gl - 1,
                size,
                dmin,
            )
        )
    nv_slice = int_mask.reshape(int_mask.shape[0], -1).sum(1)
    for space, kz, kk, gl, size, dmin in blocks:
        nvox = nv_slice if space == "2D" else np.array([int(int_mask.sum())])
        for family, names, j in (("szm", SZM_NAMES, size), ("dzm", DZM_NAMES, dmin)):
            if family not in families:
                continue
            m, j_values = _zone_matrix(kk, gl, j, kz, ng)
            targets = [("3D", m, nvox)] if space == "3D" else []
            if space == "2D" and "2D" in spaces:
                targets.append(("2D", m, nvox))
            if space == "2D" and "2.5D" in spaces:
                targets.append(("2.5D", m.sum(0)[None], np.array([nvox.sum()])))
            for name, stack, nv in targets:
                feats = pool(
                    runlike_features(stack, nv, names, levels, j_values), stack.sum((1, 2)) > 0
                )
                out.update({f"{family}_{k}{SUFFIX[name]}": v for k, v in feats.items()})
    return out
