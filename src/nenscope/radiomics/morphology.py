"""Morphological features (IBSI-1 section 3.1).

The ROI surface is the marching-cubes mesh (scikit-image, Lewiner) of the morphological mask;
its area and volume come from per-configuration tables of that mesh (one pass over the mask,
no mesh is built), its vertices for hull and diameter from the mask edges. Convex hull from
SciPy (Qhull). Moran's I / Geary's C: exact, as FFT convolutions on the voxel grid.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import fft as sfft
from scipy.spatial import ConvexHull, QhullError
from skimage.measure import marching_cubes

from nenscope.radiomics._kernels import (
    cube_configurations,
    extreme_candidates,
    mask_moments,
    max_pair_distance,
    surface_points,
)
from nenscope.radiomics._texture import pad_zeros


@functools.lru_cache(maxsize=1)
def _cube_triangles() -> tuple[np.ndarray, np.ndarray]:
    """Marching-cubes triangles (scikit-image, Lewiner) inside one 2×2×2 cube of a binary mask
    for each of the 254 non-trivial corner configurations: vertices (T, 3, 3) in voxel units
    from the cube's first corner, and each triangle's configuration (T,).

    Configuration bit b = 4·dz + 2·dy + dx is set when corner (dz, dy, dx) is inside. On a
    binary mask at level 0.5 every decision of the algorithm (case, face and interior
    ambiguity tests) uses the cube's own corners only, so the mesh of any mask is the union of
    these per-cube triangles (a test checks the totals against the full mesh)."""
    tris, cfg = [], []
    for c in range(1, 255):
        cube = np.array([(c >> b) & 1 for b in range(8)], dtype=np.float32).reshape(2, 2, 2)
        verts, faces, _, _ = marching_cubes(cube, level=0.5, allow_degenerate=True)
        tris.append(verts[faces])
        cfg.append(np.full(len(faces), c))
    return np.concatenate(tris), np.concatenate(cfg)


@functools.lru_cache(maxsize=32)
def _cube_tables(spacing: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per configuration (256): mesh area (mm²), Σ n_z and Σ z̄·n_z (n: triangle area vector,
    z̄: triangle centroid along axis 0 from the cube corner, mm) for voxels of ``spacing``."""
    tri, cfg = _cube_triangles()
    tri = tri * np.asarray(spacing)
    u, w = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    n = 0.5 * np.cross(u, w)
    area = np.bincount(cfg, weights=np.sqrt((n * n).sum(1)), minlength=256)
    n_z = np.bincount(cfg, weights=n[:, 0], minlength=256)
    zn_z = np.bincount(cfg, weights=n[:, 0] * tri[:, :, 0].mean(1), minlength=256)
    return area, n_z, zn_z


def mesh_volume_area(mask: np.ndarray, spacing) -> tuple[float, float]:
    """Volume (mm³) and area (mm²) of the marching-cubes mesh of a binary mask (level 0.5,
    zero-padded), without building the mesh.

    Each 2×2×2 cube contributes its configuration's triangles (:func:`_cube_triangles`): the
    area is Σ_cubes area[cfg]; the volume, by the divergence theorem with the field (z, 0, 0),
    is |Σ_triangles z̄ n_z| = |Σ_cubes (z_cube n_z[cfg] + (z̄ n_z)[cfg])|. One compiled pass
    counts the configurations per slice (``_kernels.cube_configurations``).
    """
    per_slice = cube_configurations(pad_zeros(np.asarray(mask, dtype=bool), np.uint8))
    nz = per_slice.shape[0]
    spacing = tuple(float(x) for x in spacing)
    area, n_z, zn_z = _cube_tables(spacing)
    counts = per_slice.sum(0)
    volume = abs(spacing[0] * float((np.arange(nz) @ per_slice) @ n_z) + float(counts @ zn_z))
    return volume, float(counts @ area)


def _surface_points(mask: np.ndarray) -> np.ndarray:
    """Vertices of the marching-cubes mesh of a binary mask that can be extreme: the midpoints
    of voxel edges with one end inside and one outside, as (3, n) integers on the half-voxel
    lattice of the zero-padded mask (2·index + edge direction). Marching cubes puts exactly
    these points on such edges (level 0.5); its extra cube-centre vertices are averages of
    them, never extreme, so hulls, diameters and bounding boxes are the same (one compiled
    pass, ``_kernels.surface_points``)."""
    return surface_points(pad_zeros(np.asarray(mask, dtype=bool), np.uint8))


_LINE_DIRECTIONS = (
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (1, 1, 0),
    (1, -1, 0),
    (1, 0, 1),
    (1, 0, -1),
    (0, 1, 1),
    (0, 1, -1),
    (1, 1, 1),
    (1, 1, -1),
    (1, -1, 1),
    (1, -1, -1),
)


def _extreme_candidates(
    grid: np.ndarray, directions=_LINE_DIRECTIONS[:3], stop_below: int = 0
) -> np.ndarray:
    """Indices of the points ``grid`` (3, n) (half-voxel lattice) that can be convex-hull
    vertices.

    A hull vertex is an extreme point, so on every line through it it is the first or last
    point of the set on that line (and of any subset holding it). For a lattice direction d
    (entries 0/±1, first non-zero axis a with d[a] = 1) the points of one line share
    u_b = g[b] − d[b]·g[a] on the two other axes b, and g[a] orders them along the line. Per
    direction, the first and last point of every line come from a dense per-line min/max table
    (no sort), and only those points go on to the next direction. Three axis directions make a
    cheap pre-filter for Qhull; adding the six face and four body diagonals leaves few more
    points than the hull vertices, enough for the maximum diameter without a hull. Filtering
    stops once at most ``stop_below`` points are left (then all pairs cost less than a pass).
    The per-direction passes are compiled (``_kernels.extreme_candidates``).
    """
    return extreme_candidates(
        np.ascontiguousarray(grid, dtype=np.int64), np.array(directions, dtype=np.int64), stop_below
    )


def max_distance(points: np.ndarray) -> float:
    """Largest distance between two of ``points`` (n, 3): every pair, in one compiled loop
    (``_kernels.max_pair_distance``); cheap for the few hundred candidates left by the hull
    filter."""
    if points.shape[0] < 2:
        return 0.0
    return float(max_pair_distance(np.ascontiguousarray(points, dtype=np.float64)))


def _hull(points: np.ndarray):
    try:
        return ConvexHull(points)
    except QhullError:
        return ConvexHull(points, qhull_options="QJ")


def ellipsoid_area(a: float, b: float, c: float, terms: int = 20) -> float:
    """Surface area of an ellipsoid with semi-axes a ≥ b ≥ c (Legendre series, IBSI 3.1.21)."""
    from scipy.special import eval_legendre

    if a <= 0:
        return 0.0
    alpha = np.sqrt(max(1 - b**2 / a**2, 0.0))
    beta = np.sqrt(max(1 - c**2 / a**2, 0.0))
    if alpha * beta == 0:
        # degenerate series argument: fall back to a spheroid-safe numeric limit
        alpha, beta = max(alpha, 1e-9), max(beta, 1e-9)
    x = (alpha**2 + beta**2) / (2 * alpha * beta)
    nu = np.arange(terms + 1)
    series = (alpha * beta) ** nu / (1 - 4 * nu**2) * eval_legendre(nu, x)
    return float(4 * np.pi * a * b * series.sum())


def _min_area_rect(points2d: np.ndarray) -> tuple[float, float, float]:
    """Minimum-area bounding rectangle of 2D points by rotating calipers over hull edges."""
    try:
        hull = ConvexHull(points2d)
        pts = points2d[hull.vertices]
    except QhullError:
        pts = points2d
    edges = np.diff(np.vstack([pts, pts[:1]]), axis=0)
    ang = np.arctan2(edges[:, 1], edges[:, 0])
    c, s = np.cos(ang), np.sin(ang)
    u = pts @ np.stack([c, s])  # (n_points, n_edges)
    v = pts @ np.stack([-s, c])
    w = u.max(0) - u.min(0)
    h = v.max(0) - v.min(0)
    k = int(np.argmin(w * h))
    return float(w[k] * h[k]), float(w[k]), float(h[k])


def ombb(points: np.ndarray, hull, max_normals: int = 24) -> tuple[float, float]:
    """Volume and area of an oriented minimum bounding box: for hull facet normals the points
    are projected on the facet plane and the minimum rectangle is found by rotating calipers
    (the optimal box has a face flush with a hull facet in nearly all cases; O'Rourke 1985).
    Large hulls use the normals of their ``max_normals`` largest facets (an approximation;
    IBSI gives no consensus value for OMBB)."""
    pts = points[hull.vertices]
    normals = np.unique(np.round(hull.equations[:, :3], 6), axis=0)
    if normals.shape[0] > max_normals:  # keep the normals of the largest facets
        tri = points[hull.simplices]
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        order = np.argsort(-area)
        normals = np.unique(np.round(hull.equations[order[:max_normals], :3], 6), axis=0)
    best = (np.inf, np.nan)
    for n in normals:
        n = n / np.linalg.norm(n)
        t = np.array([1.0, 0, 0]) if abs(n[0]) < 0.9 else np.array([0, 1.0, 0])
        e1 = np.cross(n, t)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        depth = np.ptp(pts @ n)
        rect, w, h = _min_area_rect(np.stack([pts @ e1, pts @ e2], axis=1))
        vol = rect * depth
        if vol < best[0]:
            best = (vol, 2 * (w * h + w * depth + h * depth))
    return best


def mvee(points: np.ndarray, tol: float = 1e-3, max_iter: int = 5000) -> np.ndarray:
    """Semi-axes (descending) of the minimum volume enclosing ellipsoid.

    Khachiyan's algorithm with Todd & Yildirim's away steps (Discrete Appl Math 2007;155:1731)
    and the Kumar-Yildirim start (extreme points along each axis); it stops at a
    (1 + tol)-approximation (duality gap on max/min of q_iᵀ X⁻¹ q_i against d + 1).
    """
    n, d = points.shape
    q = np.vstack([points.T, np.ones(n)])
    start = np.unique(np.concatenate([np.argmin(points, 0), np.argmax(points, 0)]))
    u = np.zeros(n)
    u[start] = 1.0 / start.size
    for _ in range(max_iter):
        x = (q * u) @ q.T
        m = np.einsum("ij,ij->j", q, np.linalg.solve(x, q))
        j = int(np.argmax(m))
        support = np.flatnonzero(u > 0)
        k = int(support[np.argmin(m[support])])
        up, down = m[j] / (d + 1) - 1, 1 - m[k] / (d + 1)
        if max(up, down) <= tol:
            break
        if up >= down:  # toward the farthest point
            step = (m[j] - d - 1.0) / ((d + 1.0) * (m[j] - 1.0))
            u *= 1 - step
            u[j] += step
        else:  # away from the closest support point
            step = min((d + 1.0 - m[k]) / ((d + 1.0) * (m[k] - 1.0)), u[k] / (1 - u[k]))
            u *= 1 + step
            u[k] -= step
            u[u < 1e-14] = 0.0
    centre = points.T @ u
    a = np.linalg.inv((points.T * u) @ points - np.outer(centre, centre)) / d
    eig = np.linalg.eigvalsh(a)
    return np.sort(1.0 / np.sqrt(np.clip(eig, 1e-12, None)))[::-1]


def moran_geary(image: np.ndarray, mask: np.ndarray, spacing_mm) -> tuple[float, float]:
    """Moran's I and Geary's C with inverse-distance weights w_ij = 1/|x_i - x_j| (mm) over the
    ROI voxels (IBSI 3.1.28-29), exact.

    The sums over all voxel pairs are convolutions on the voxel grid: with K(r) = 1/|r|
    (K(0) = 0), Σ_ij w_ij a_i b_j = Σ_i a_i (K * b)_i. Three FFT convolutions of the ROI's
    bounding box (mask, x, x - mean) give W, xᵀWx-type sums and the Geary numerator
    Σ w (x_i - x_j)² = 2 Σ_i x_i² (K * m)_i - 2 Σ_i x_i (K * x)_i: O(M log M) for M box voxels
    instead of O(N²) voxel pairs.
    """
    m = mask.astype(np.float64)
    n = int(mask.sum())
    if n < 2:
        return float("nan"), float("nan")
    x = np.where(mask, image, 0.0).astype(np.float64)
    mean = x.sum() / n
    dev = np.where(mask, x - mean, 0.0)
    denom = float((dev**2).sum())
    if denom == 0:
        return float("nan"), float("nan")
    spacing = np.asarray(spacing_mm, dtype=float)
    # circular convolution on a period P >= 2n - 1 per axis: no wrap-around reaches the box
    period = [sfft.next_fast_len(2 * k - 1, real=True) for k in mask.shape]
    offs = []
    for k, per, sp in zip(mask.shape, period, spacing, strict=True):
        t = np.arange(per)
        o = np.where(t < k, t, t - per).astype(np.float64)
        o[(t >= k) & (t <= per - k)] = np.nan  # offsets that no in-box pair uses
        offs.append(o * sp)
    r2 = offs[0][:, None, None] ** 2 + offs[1][None, :, None] ** 2 + offs[2][None, None, :] ** 2
    kernel = np.zeros(r2.shape)
    ok = np.isfinite(r2) & (r2 > 0)
    kernel[ok] = 1.0 / np.sqrt(r2[ok])
    kspec = sfft.rfftn(kernel)
    del kernel, r2
    box = tuple(slice(0, k) for k in mask.shape)
    k_m, k_x, k_dev = (
        sfft.irfftn(sfft.rfftn(f, s=period) * kspec, s=period)[box] for f in (m, x, dev)
    )
    w_sum = float((m * k_m).sum())
    moran_num = float((dev * k_dev).sum())
    geary_num = 2.0 * float((x * x * k_m).sum()) - 2.0 * float((x * k_x).sum())
    return float(n / w_sum * moran_num / denom), float((n - 1) / (2 * w_sum) * geary_num / denom)


def morphology_features(
    image: np.ndarray,
    morph_mask: np.ndarray,
    int_mask: np.ndarray,
    spacing_mm,
    extended: bool = True,
) -> dict[str, float]:
    """``morph_*`` features. Positions are voxel centres in mm (index × spacing).

    ``extended=False`` skips the features pyradiomics lacks (convex-hull, OMBB and MVEE
    densities, Moran's I, Geary's C) and with them the Qhull call."""
    spacing = np.asarray(spacing_mm, dtype=float)
    v, a = mesh_volume_area(morph_mask, spacing)
    grid = _surface_points(morph_mask)
    verts = grid.T * (0.5 * spacing)
    n_vox = int(np.count_nonzero(morph_mask))
    out: dict[str, float] = {
        "morph_volume": v,
        "morph_vol_approx": n_vox * float(np.prod(spacing)),
        "morph_area_mesh": a,
        "morph_av": a / v,
        "morph_comp_1": v / (np.sqrt(np.pi) * a**1.5),
        "morph_comp_2": 36 * np.pi * v**2 / a**3,
        "morph_sph_dispr": a / (36 * np.pi * v**2) ** (1 / 3),
        "morph_sphericity": (36 * np.pi * v**2) ** (1 / 3) / a,
        "morph_asphericity": (a**3 / (36 * np.pi * v**2)) ** (1 / 3) - 1,
    }
    _, mean_idx, cov_idx, n_int, total, weighted = mask_moments(
        np.ascontiguousarray(morph_mask, dtype=np.bool_),
        np.ascontiguousarray(int_mask, dtype=np.bool_),
        np.ascontiguousarray(image, dtype=np.float64),
    )
    com_geom = mean_idx * spacing
    com_int = weighted * spacing / total if total != 0 else com_geom
    out["morph_com"] = float(np.linalg.norm(com_geom - com_int))
    if extended:
        cand = verts[_extreme_candidates(grid)]
        hull = _hull(cand)
        hv = cand[hull.vertices]
    else:  # diameter only: the lattice-line filter leaves (nearly) just the hull vertices
        hv = verts[_extreme_candidates(grid, _LINE_DIRECTIONS, stop_below=256)]
    out["morph_diam"] = max_distance(hv)
    if n_vox > 1:  # sample covariance of the voxel positions (mm)
        cov = cov_idx * np.outer(spacing, spacing)
        lam = np.sort(np.clip(np.linalg.eigvalsh(cov), 0, None))[::-1]
    else:
        lam = np.zeros(3)
    out["morph_pca_maj_axis"] = 4 * np.sqrt(lam[0])
    out["morph_pca_min_axis"] = 4 * np.sqrt(lam[1])
    out["morph_pca_least_axis"] = 4 * np.sqrt(lam[2])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["morph_pca_elongation"] = float(np.sqrt(lam[1] / lam[0]))
        out["morph_pca_flatness"] = float(np.sqrt(lam[2] / lam[0]))
    ext = verts.max(0) - verts.min(0)
    out["morph_vol_dens_aabb"] = v / float(np.prod(ext))
    out["morph_area_dens_aabb"] = a / float(
        2 * (ext[0] * ext[1] + ext[0] * ext[2] + ext[1] * ext[2])
    )
    if extended:
        vol_ob, area_ob = ombb(cand, hull)
        out["morph_vol_dens_ombb"] = v / vol_ob
        out["morph_area_dens_ombb"] = a / area_ob
    sa, sb, sc = 2 * np.sqrt(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["morph_vol_dens_aee"] = float(3 * v / (4 * np.pi * sa * sb * sc))
        area_aee = ellipsoid_area(sa, sb, sc)
        out["morph_area_dens_aee"] = a / area_aee if area_aee > 0 else float("nan")
    if extended:
        ea, eb, ec = mvee(hv)
        out["morph_vol_dens_mvee"] = float(3 * v / (4 * np.pi * ea * eb * ec))
        area_mvee = ellipsoid_area(ea, eb, ec)
        out["morph_area_dens_mvee"] = a / area_mvee if area_mvee > 0 else float("nan")
    if extended:
        out["morph_vol_dens_conv_hull"] = v / hull.volume
        out["morph_area_dens_conv_hull"] = a / hull.area
    out["morph_integ_int"] = v * total / n_int
    if extended:
        mi, gc = moran_geary(image, int_mask, spacing)
        out["morph_moran_i"] = mi
        out["morph_geary_c"] = gc
    return {k: float(x) for k, x in out.items()}
