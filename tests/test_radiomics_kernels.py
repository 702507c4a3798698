"""The compiled radiomics kernels against independent references: brute-force Python loops
over voxels (matrix definitions of IBSI-1), cc3d/SciPy (zones, distances) and NumPy/SciPy
(formulas, statistics), on random ROIs."""

from __future__ import annotations

import itertools

import cc3d
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import pdist

from nenscope.radiomics import _kernels as K
from nenscope.radiomics._texture import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    NEIGHBOURS_2D,
    NEIGHBOURS_3D,
    build_lattice,
    flat_offsets,
    pad_zeros,
)


def _roi(seed: int, shape=(5, 6, 7), ng: int = 4):
    rng = np.random.default_rng(seed)
    q = rng.integers(1, ng + 1, size=shape)
    mask = rng.random(shape) < 0.75
    return np.where(mask, q, 0), mask, ng


def _level(q, z, y, x):
    """Grey level at (z, y, x), 0 outside the volume or the ROI."""
    if 0 <= z < q.shape[0] and 0 <= y < q.shape[1] and 0 <= x < q.shape[2]:
        return int(q[z, y, x])
    return 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_glcm_counts_match_pair_definition(seed):
    q, mask, ng = _roi(seed)
    lat = build_lattice(q, mask)
    m = K.glcm_counts(lat.flat, lat.roi, lat.z, lat.offsets(DIRECTIONS_3D), ng, 1)[0]
    ref = np.zeros_like(m)
    for (z, y, x), (d, (dz, dy, dx)) in itertools.product(
        np.argwhere(mask), enumerate(DIRECTIONS_3D)
    ):
        j = _level(q, z + dz, y + dy, x + dx)
        if j:
            ref[d, q[z, y, x] - 1, j - 1] += 1
            ref[d, j - 1, q[z, y, x] - 1] += 1
    np.testing.assert_array_equal(m, ref)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_run_counts_match_line_walks(seed):
    q, mask, ng = _roi(seed)
    lat = build_lattice(q, mask)
    m = K.run_counts(lat.flat, lat.roi, lat.z, lat.offsets(DIRECTIONS_2D), ng, q.shape[0])
    ref = np.zeros((q.shape[0], len(DIRECTIONS_2D), ng, max(q.shape) + 1), dtype=np.int64)
    for (z, y, x), (d, (dz, dy, dx)) in itertools.product(
        np.argwhere(mask), enumerate(DIRECTIONS_2D)
    ):
        g = q[z, y, x]
        if _level(q, z - dz, y - dy, x - dx) == g:
            continue  # not a run start
        n = 1
        while _level(q, z + n * dz, y + n * dy, x + n * dx) == g:
            n += 1
        ref[z, d, g - 1, n - 1] += 1
    assert m.shape[-1] == np.flatnonzero(ref.any((0, 1, 2)))[-1] + 1  # trimmed to the longest run
    np.testing.assert_array_equal(m, ref[..., : m.shape[-1]])


@pytest.mark.parametrize(("seed", "alpha"), [(0, 0), (1, 0), (2, 1)])
def test_neighbourhood_counts_match_definition(seed, alpha):
    q, mask, ng = _roi(seed)
    levels = np.array([0, 2, 3, 7, 9], dtype=np.int64)  # values of indices 0..4 (0: outside)
    lat = build_lattice(q, mask)
    s, n, dep = K.neighbourhood_counts(
        lat.flat, lat.roi, lat.z, lat.offsets(NEIGHBOURS_3D), levels, alpha, ng, 1
    )
    s_ref, n_ref = np.zeros((1, ng)), np.zeros((1, ng))
    dep_ref = np.zeros((1, ng, 27), dtype=np.int64)
    for z, y, x in np.argwhere(mask):
        g = q[z, y, x]
        nb = [_level(q, z + a, y + b, x + c) for a, b, c in NEIGHBOURS_3D]
        vals = [levels[h] for h in nb if h]
        if vals:
            s_ref[0, g - 1] += abs(levels[g] - np.mean(vals))
            n_ref[0, g - 1] += 1
        same = sum(1 for h in nb if h and abs(levels[h] - levels[g]) <= alpha)
        dep_ref[0, g - 1, same] += 1
    np.testing.assert_allclose(s, s_ref, rtol=1e-12)
    np.testing.assert_array_equal(n, n_ref)
    np.testing.assert_array_equal(dep, dep_ref[..., : dep.shape[-1]])
    assert dep_ref[..., dep.shape[-1] :].sum() == 0


@pytest.mark.parametrize(("seed", "two_d"), [(0, False), (1, False), (2, True), (3, True)])
def test_zone_list_matches_cc3d_labelling(seed, two_d):
    q, mask, _ = _roi(seed, shape=(6, 9, 8), ng=3)
    rng = np.random.default_rng(seed)
    dist = rng.integers(1, 5, size=q.shape)
    grey = pad_zeros(q, np.int64)
    slice_size = grey.shape[1] * grey.shape[2]
    offs = flat_offsets(NEIGHBOURS_2D if two_d else NEIGHBOURS_3D, (slice_size, grey.shape[2], 1))
    gl, size, zslice, dmin = K.zone_list(
        grey.ravel(), pad_zeros(dist, np.int64).ravel(), offs, slice_size
    )
    ref = []
    blocks = [(z, q[z], dist[z], 8) for z in range(q.shape[0])] if two_d else [(0, q, dist, 26)]
    for z, block, dblock, conn in blocks:
        labels, n = cc3d.connected_components(
            block.astype(np.uint32), connectivity=conn, return_N=True
        )
        for lab in range(1, n + 1):
            sel = labels == lab
            ref.append((int(block[sel][0]), int(sel.sum()), z, int(dblock[sel].min())))
    got = sorted(
        zip(
            gl.tolist(),
            size.tolist(),
            (zslice - 1).tolist() if two_d else [0] * gl.size,
            dmin.tolist(),
            strict=True,
        )
    )
    assert got == sorted(ref)


def test_glcm_formulas_match_numpy_definitions():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 6, size=(3, 5, 5))
    m = a + a.transpose(0, 2, 1)
    g = np.array([1.0, 2.0, 4.0, 5.0, 8.0])
    out = dict(
        zip(K.GLCM_FEATURES, K.glcm_stack_features(m.astype(np.float64), g, 9.0), strict=True)
    )
    for k in range(3):
        p = m[k] / m[k].sum()
        i, j = np.meshgrid(g, g, indexing="ij")
        pi = p.sum(1)
        mu = pi @ g
        var = pi @ (g - mu) ** 2
        nz = p[p > 0]
        hx = -(pi[pi > 0] * np.log2(pi[pi > 0])).sum()
        hxy = -(nz * np.log2(nz)).sum()
        ref = {
            "joint_max": p.max(),
            "joint_avg": mu,
            "joint_var": var,
            "joint_entr": hxy,
            "contrast": (p * (i - j) ** 2).sum(),
            "inv_diff_norm": (p / (1 + abs(i - j) / 9)).sum(),
            "inv_var": (p[i != j] / (i - j)[i != j] ** 2).sum(),
            "energy": (p * p).sum(),
            "corr": ((p * i * j).sum() - mu**2) / var,
            "clust_prom": (p * (i + j - 2 * mu) ** 4).sum(),
            "sum_avg": (p * (i + j)).sum(),
            "diff_var": (p * (abs(i - j) - (p * abs(i - j)).sum()) ** 2).sum(),
            "info_corr1": (hxy - 2 * hx) / hx,
        }
        for name, value in ref.items():
            assert out[name][k] == pytest.approx(value, rel=1e-12), name


def test_runlike_formulas_match_numpy_definitions():
    rng = np.random.default_rng(6)
    m = rng.integers(0, 4, size=(2, 4, 6)).astype(np.float64)
    i = np.array([1.0, 3.0, 4.0, 6.0])
    j = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 9.0])
    nv = np.array([200.0, 150.0])
    out = dict(zip(K.RUNLIKE_FEATURES, K.runlike_stack_features(m, i, j, nv), strict=True))
    for k in range(2):
        ii, jj = np.meshgrid(i, j, indexing="ij")
        ns = m[k].sum()
        p = m[k] / ns
        pj = p.sum(0)
        ref = {
            "se": (p / jj**2).sum(),
            "lhg": (p * ii**2 * jj**2).sum(),
            "llg": (p * jj**2 / ii**2).sum(),
            "glnu": (m[k].sum(1) ** 2).sum() / ns,
            "jnu_norm": (m[k].sum(0) ** 2).sum() / ns**2,
            "perc": ns / nv[k],
            "j_var": (pj * (j - pj @ j) ** 2).sum(),
            "j_entr": -(p[p > 0] * np.log2(p[p > 0])).sum(),
            "energy": (p * p).sum(),
        }
        for name, value in ref.items():
            assert out[name][k] == pytest.approx(value, rel=1e-12), name


def test_moments_and_diameter_match_numpy():
    rng = np.random.default_rng(7)
    x = np.sort(rng.gamma(2.0, 3.0, size=501))
    out = dict(zip(K.MOMENT_FEATURES, K.sorted_moments(x), strict=True))
    p10, p90 = np.percentile(x, [10, 90])
    sel = x[(x >= p10) & (x <= p90)]
    assert out["skew"] == pytest.approx(stats.skew(x), rel=1e-10)
    assert out["kurt"] == pytest.approx(stats.kurtosis(x), rel=1e-10)
    assert out["iqr"] == pytest.approx(np.subtract(*np.percentile(x, [75, 25])), rel=1e-12)
    assert out["rmad"] == pytest.approx(np.abs(sel - sel.mean()).mean(), rel=1e-12)
    assert out["medad"] == pytest.approx(np.abs(x - np.median(x)).mean(), rel=1e-12)
    pts = rng.normal(size=(300, 3)) * [3.0, 1.0, 2.0]
    assert K.max_pair_distance(pts) == pytest.approx(pdist(pts).max(), rel=1e-13)


def test_kernels_work_without_a_writable_cache_directory():
    """Read-only install and home: Numba refuses cache=True (no cache locator); the kernels
    must still import and run, compiled per process. ``ZipCacheLocator`` alone finds no
    location for a plain file, which is the same situation."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\nfrom nenscope.radiomics._kernels import bounding_box\n"
        "lo, hi = bounding_box(np.pad(np.ones((2, 3, 4), bool), 1))\nprint(lo.tolist(), hi.tolist())"
    )
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "ZipCacheLocator"}
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr[-500:]
    assert res.stdout.split("\n")[0] == "[1, 1, 1] [3, 4, 5]"
