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
writable (read-only install) Numba uses the user's cache directory (``~/.cache/numba`` or
``NUMBA_CACHE_DIR``). Where neither is writable Numba refuses ``cache=True`` at decoration
time, so :func:`_jit` then compiles without an on-disk cache (once per process).
"""

from __future__ import annotations

import numba
import numpy as np


def _jit(**options):
    """``numba.njit(cache=True, nogil=True, **options)``, without the cache when no cache
    directory is writable (Numba raises RuntimeError for cache=True then)."""

    def decorate(func):
        try:
            return numba.njit(cache=True, nogil=True, **options)(func)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(cache=False, nogil=True, **options)(func)

    return decorate


@_jit()
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


@_jit()
def run_counts(flat, roi, z, offs, ng, nz):
    """Run-length counts (nz, n_directions, Ng, Lmax): a run starts at a ROI voxel whose
    predecessor along the direction has another grey level (or lies outside the ROI, level
    0) and goes on while the successor has the same level. Lmax is the longest run found."""
    nd = offs.size
    nv = roi.size
    code = np.empty(nd * nv, dtype=np.int64)  # (slice, direction, level) of each run
    length = np.empty(nd * nv, dtype=np.int64)
    runs = 0
    lmax = 1
    for d in range(nd):
        o = offs[d]
        for v in range(nv):
            p = roi[v]
            g = flat[p]
            if flat[p - o] == g:  # not the first voxel of its run
                continue
            n = 1
            while flat[p + n * o] == g:
                n += 1
            code[runs] = ((z[v] if nz > 1 else 0) * nd + d) * ng + np.int64(g) - 1
            length[runs] = n
            runs += 1
            if n > lmax:
                lmax = n
    m = np.zeros((nz * nd * ng, lmax), dtype=np.int64)
    for r in range(runs):
        m[code[r], length[r] - 1] += 1
    return m.reshape((nz, nd, ng, lmax))


@_jit()
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


# Feature formulas. For one lesion the matrices are small (tens of grey levels): the NumPy
# formulas spend their time in per-call overhead (~100 array calls per family), so each
# family's formulas are one compiled loop over its stack of matrices. The formulas are those
# of IBSI-1 (sections 3.6-3.11), written out per matrix.

_LOG2 = np.log(2.0)


@_jit(error_model="numpy")
def glcm_stack_features(m, g, ng):
    """The 25 GLCM features (rows, in ``GLCM_FEATURES`` order) of each symmetric count matrix
    of the stack ``m`` (K, n, n) (only the upper triangle is read); ``g`` (n,) are the
    (integer) grey levels of the rows, ascending, ``ng`` the
    nominal number of grey levels (normalised inverse differences). Undefined values (0/0)
    come out as NaN or inf, as in the NumPy formulas."""
    k_n, n, _ = m.shape
    out = np.empty((25, k_n))
    gmin = g.min() if n else 0.0
    gmax = g.max() if n else 0.0
    nd = int(gmax - gmin) + 1  # |i - j| in 0 .. gmax - gmin
    s0 = int(2 * gmin)
    ns = int(2 * gmax) - s0 + 1
    # weights of the seven |i - j| weighted sums, per difference value (grey levels are
    # integers); the eighth (auto-correlation) weight is i·j
    wt = np.empty((nd, 7))
    for t in range(nd):
        d = float(t)
        d2 = d * d
        wt[t, 0] = d2
        wt[t, 1] = d
        wt[t, 2] = 1 / (1 + d)
        wt[t, 3] = 1 / (1 + d / ng)
        wt[t, 4] = 1 / (1 + d2)
        wt[t, 5] = 1 / (1 + d2 / ng**2)
        wt[t, 6] = 1 / d2 if d2 > 0 else 0.0
    pi = np.empty(n)
    p_diff = np.empty(nd)
    p_sum = np.empty(ns)
    w = np.empty(8)
    for k in range(k_n):
        # the matrices are symmetric: visit a <= b, off-diagonal cells count twice
        tot = 0.0
        for a in range(n):
            tot += m[k, a, a]
            for b in range(a + 1, n):
                tot += 2.0 * m[k, a, b]
        scale = tot if tot > 0 else 1.0
        pmax = 0.0
        w[:] = 0.0
        hxy = 0.0
        energy = 0.0
        p_diff[:] = 0.0
        p_sum[:] = 0.0
        pi[:] = 0.0
        for a in range(n):
            for b in range(a, n):
                if m[k, a, b] == 0:  # most cells: nothing to add
                    continue
                x = m[k, a, b] / scale
                if x > pmax:
                    pmax = x
                x2 = x if a == b else 2.0 * x
                pi[a] += x
                if b != a:
                    pi[b] += x
                t = int(abs(g[a] - g[b]))
                for r in range(7):
                    w[r] += x2 * wt[t, r]
                w[7] += x2 * g[a] * g[b]
                hxy -= x2 * np.log(x)
                energy += x2 * x
                p_diff[t] += x2
                p_sum[int(g[a] + g[b]) - s0] += x2
        hxy /= _LOG2
        mu = 0.0
        m2 = 0.0
        hx = 0.0
        for a in range(n):
            mu += pi[a] * g[a]
            m2 += pi[a] * g[a] * g[a]
            if pi[a] > 0:
                hx -= pi[a] * np.log(pi[a])
        hx /= _LOG2
        var = m2 - mu * mu
        diff_avg = 0.0
        diff_m2 = 0.0
        diff_entr = 0.0
        for t in range(nd):
            diff_avg += p_diff[t] * t
            diff_m2 += p_diff[t] * t * t
            if p_diff[t] > 0:
                diff_entr -= p_diff[t] * np.log(p_diff[t])
        sum_avg = 0.0
        sum_m2 = 0.0
        sum_entr = 0.0
        tend = 0.0
        shade = 0.0
        prom = 0.0
        for t in range(ns):
            sv = t + s0
            x = p_sum[t]
            sum_avg += x * sv
            sum_m2 += x * sv * sv
            if x > 0:
                sum_entr -= x * np.log(x)
            c = sv - 2 * mu
            pc2 = x * c * c
            tend += pc2
            shade += pc2 * c
            prom += pc2 * c * c
        info2 = 1 - np.exp(-2 * (2 * hx - hxy))
        out[0, k] = pmax
        out[1, k] = mu
        out[2, k] = var
        out[3, k] = hxy
        out[4, k] = diff_avg
        out[5, k] = diff_m2 - diff_avg**2
        out[6, k] = diff_entr / _LOG2
        out[7, k] = sum_avg
        out[8, k] = sum_m2 - sum_avg**2
        out[9, k] = sum_entr / _LOG2
        out[10, k] = energy
        for t in range(8):
            out[11 + t, k] = w[t]
        out[19, k] = (w[7] - mu * mu) / var
        out[20, k] = tend
        out[21, k] = shade
        out[22, k] = prom
        out[23, k] = (hxy - 2 * hx) / hx
        out[24, k] = np.sqrt(info2) if info2 > 0 else 0.0
    return out


GLCM_FEATURES = (
    "joint_max",
    "joint_avg",
    "joint_var",
    "joint_entr",
    "diff_avg",
    "diff_var",
    "diff_entr",
    "sum_avg",
    "sum_var",
    "sum_entr",
    "energy",
    "contrast",
    "dissimilarity",
    "inv_diff",
    "inv_diff_norm",
    "inv_diff_mom",
    "inv_diff_mom_norm",
    "inv_var",
    "auto_corr",
    "corr",
    "clust_tend",
    "clust_shade",
    "clust_prom",
    "info_corr1",
    "info_corr2",
)


@_jit(error_model="numpy")
def runlike_stack_features(m, i, j, n_voxels):
    """Features shared by GLRLM, GLSZM, GLDZM and NGLDM (rows in ``RUNLIKE_FEATURES`` order)
    for each count matrix of the stack ``m`` (K, Ng, Nj): ``i`` (Ng,) grey levels of the rows,
    ``j`` (Nj,) run lengths / zone sizes / distances / dependence counts of the columns,
    ``n_voxels`` (K,) the voxels behind each matrix. Empty matrices give NaN ratios."""
    k_n, n_i, n_j = m.shape
    out = np.empty((17, k_n))
    mi = np.empty(n_i)
    mj = np.empty(n_j)
    for k in range(k_n):
        mj[:] = 0.0
        ns = 0.0
        slg = 0.0
        shg = 0.0
        llg = 0.0
        lhg = 0.0
        for a in range(n_i):
            row = 0.0
            r_short = 0.0
            r_long = 0.0
            for b in range(n_j):
                x = float(m[k, a, b])
                if x != 0:
                    row += x
                    mj[b] += x
                    jj = j[b] * j[b]
                    r_short += x / jj
                    r_long += x * jj
            mi[a] = row
            ns += row
            ii = i[a] * i[a]
            slg += r_short / ii
            shg += r_short * ii
            llg += r_long / ii
            lhg += r_long * ii
        valid = ns > 0
        safe = ns if valid else 1.0
        nan = np.nan
        se = 0.0
        le = 0.0
        jnu = 0.0
        mu_j = 0.0
        m2_j = 0.0
        for b in range(n_j):
            jj = j[b] * j[b]
            se += mj[b] / jj
            le += mj[b] * jj
            jnu += mj[b] * mj[b]
            mu_j += mj[b] / safe * j[b]
            m2_j += mj[b] / safe * jj
        lg = 0.0
        hg = 0.0
        glnu = 0.0
        mu_i = 0.0
        m2_i = 0.0
        for a in range(n_i):
            ii = i[a] * i[a]
            lg += mi[a] / ii
            hg += mi[a] * ii
            glnu += mi[a] * mi[a]
            mu_i += mi[a] / safe * i[a]
            m2_i += mi[a] / safe * ii
        entr = 0.0
        energy = 0.0
        for a in range(n_i):
            for b in range(n_j):
                x = m[k, a, b] / safe
                if x > 0:
                    entr -= x * np.log(x)
                    energy += x * x
        sums = (se, le, lg, hg, slg, shg, llg, lhg, glnu, jnu)
        for t in range(10):
            out[t, k] = sums[t] / safe if valid else nan
        out[10, k] = glnu / safe / safe if valid else nan
        out[11, k] = jnu / safe / safe if valid else nan
        out[12, k] = ns / max(n_voxels[k], 1) if n_voxels[k] > 0 else nan
        out[13, k] = m2_i - mu_i * mu_i
        out[14, k] = m2_j - mu_j * mu_j
        out[15, k] = entr / _LOG2
        out[16, k] = energy
    return out


RUNLIKE_FEATURES = (
    "se",
    "le",
    "lg",
    "hg",
    "slg",
    "shg",
    "llg",
    "lhg",
    "glnu",
    "jnu",
    "glnu_norm",
    "jnu_norm",
    "perc",
    "gl_var",
    "j_var",
    "j_entr",
    "energy",
)


# Morphology. The mesh tables, surface points and diameter filter are simple passes over the
# mask or the surface points; in NumPy each is a chain of shifted copies, ``ufunc.at`` calls
# and temporary index arrays.


@_jit()
def cube_configurations(p):
    """Per slice, the number of 2×2×2 cubes of the padded binary mask ``p`` (uint8) in each of
    the 256 corner configurations (bit 4·dz + 2·dy + dx set when that corner is inside):
    (nz - 1, 256)."""
    nz, ny, nx = p.shape
    out = np.zeros((nz - 1, 256), dtype=np.int64)
    for z in range(nz - 1):
        for y in range(ny - 1):
            for x in range(nx - 1):
                c = (
                    p[z, y, x]
                    | p[z, y, x + 1] << 1
                    | p[z, y + 1, x] << 2
                    | p[z, y + 1, x + 1] << 3
                    | p[z + 1, y, x] << 4
                    | p[z + 1, y, x + 1] << 5
                    | p[z + 1, y + 1, x] << 6
                    | p[z + 1, y + 1, x + 1] << 7
                )
                out[z, c] += 1
    return out


@_jit()
def surface_points(p):
    """Midpoints of the voxel edges of the padded binary mask ``p`` with one end inside and
    one outside, as (3, n) integers on the half-voxel lattice (2·index + edge direction);
    axis 0 edges first, then 1, then 2, each in C order (as ``np.nonzero``)."""
    nz, ny, nx = p.shape
    n = 0
    for axis in range(3):
        for z in range(nz - (axis == 0)):
            for y in range(ny - (axis == 1)):
                for x in range(nx - (axis == 2)):
                    q = (
                        p[z + 1, y, x]
                        if axis == 0
                        else p[z, y + 1, x]
                        if axis == 1
                        else p[z, y, x + 1]
                    )
                    if p[z, y, x] != q:
                        n += 1
    out = np.empty((3, n), dtype=np.int64)
    n = 0
    for axis in range(3):
        for z in range(nz - (axis == 0)):
            for y in range(ny - (axis == 1)):
                for x in range(nx - (axis == 2)):
                    q = (
                        p[z + 1, y, x]
                        if axis == 0
                        else p[z, y + 1, x]
                        if axis == 1
                        else p[z, y, x + 1]
                    )
                    if p[z, y, x] != q:
                        out[0, n] = 2 * z + (axis == 0)
                        out[1, n] = 2 * y + (axis == 1)
                        out[2, n] = 2 * x + (axis == 2)
                        n += 1
    return out


@_jit()
def extreme_candidates(grid, directions, stop_below):
    """Indices of the points ``grid`` (3, n) that are first or last on their lattice line
    for every direction of ``directions`` (k, 3) in turn (see
    ``morphology._extreme_candidates``); stops once at most ``stop_below`` points are left."""
    idx = np.arange(grid.shape[1])
    for r in range(directions.shape[0]):
        d = directions[r]
        a = 0 if d[0] != 0 else 1 if d[1] != 0 else 2
        b = 1 if a == 0 else 0
        c = 2 if a != 2 else 1
        k = idx.size
        u = np.empty(k, dtype=np.int64)
        v = np.empty(k, dtype=np.int64)
        for s in range(k):
            t = grid[a, idx[s]]
            u[s] = grid[b, idx[s]] - d[b] * t
            v[s] = grid[c, idx[s]] - d[c] * t
        u -= u.min()
        v -= v.min()
        nv = v.max() + 1
        size = (u.max() + 1) * nv
        lo = np.full(size, np.iinfo(np.int64).max)
        hi = np.full(size, np.iinfo(np.int64).min)
        for s in range(k):
            key = u[s] * nv + v[s]
            t = grid[a, idx[s]]
            lo[key] = min(lo[key], t)
            hi[key] = max(hi[key], t)
        keep = np.empty(k, dtype=np.int64)
        n = 0
        for s in range(k):
            key = u[s] * nv + v[s]
            t = grid[a, idx[s]]
            if t == lo[key] or t == hi[key]:
                keep[n] = idx[s]
                n += 1
        idx = keep[:n].copy()
        if n <= stop_below:
            break
    return idx


@_jit()
def max_pair_distance(points):
    """Largest Euclidean distance between two rows of ``points`` (n, 3), all pairs."""
    best = 0.0
    n = points.shape[0]
    for s in range(n):
        for t in range(s + 1, n):
            d0 = points[s, 0] - points[t, 0]
            d1 = points[s, 1] - points[t, 1]
            d2 = points[s, 2] - points[t, 2]
            dd = d0 * d0 + d1 * d1 + d2 * d2
            if dd > best:
                best = dd
    return np.sqrt(best)


@_jit(error_model="numpy")
def ngtdm_stack_features(s, n, i):
    """NGTDM coarseness, contrast, busyness, complexity and strength (rows) for each row of
    the stacks ``s`` (K, Ng) of grey-tone difference sums and ``n`` (K, Ng) voxel counts;
    ``i`` (Ng,) the grey levels of the columns. Sums run over the grey levels present
    (p_i > 0) as IBSI-1 3.10 defines them."""
    k_n, ng = s.shape
    out = np.empty((5, k_n))
    p = np.empty(ng)
    idx = np.empty(ng, dtype=np.int64)
    for k in range(k_n):
        nvc = 0.0
        ssum = 0.0
        for a in range(ng):
            nvc += n[k, a]
            ssum += s[k, a]
        scale = nvc if nvc > 0 else 1.0
        ngp = 0
        pv = 0.0
        for a in range(ng):
            p[a] = n[k, a] / scale
            if p[a] > 0:
                idx[ngp] = a
                ngp += 1
                pv += p[a] * s[k, a]
        con = 0.0
        busy = 0.0
        comp = 0.0
        strength = 0.0
        for u in range(ngp):
            a = idx[u]
            for w in range(ngp):
                b = idx[w]
                d = i[a] - i[b]
                con += p[a] * p[b] * d * d
                busy += abs(i[a] * p[a] - i[b] * p[b])
                comp += abs(d) * (p[a] * s[k, a] + p[b] * s[k, b]) / (p[a] + p[b])
                strength += (p[a] + p[b]) * d * d
        out[0, k] = 1.0 / pv if pv > 0 else 1e6  # IBSI: 10^6 when the sum is 0
        out[1, k] = con / (ngp * (ngp - 1)) * ssum / nvc if ngp > 1 else 0.0
        out[2, k] = pv / busy if busy > 0 else 0.0
        out[3, k] = comp / nvc
        out[4, k] = strength / ssum if ssum > 0 else 0.0
    return out


NGTDM_FEATURES = ("coarseness", "contrast", "busyness", "complexity", "strength")


@_jit()
def zone_list(flat, dist, offs, slice_size):
    """Zones (connected voxels of equal grey level) of the zero-padded, flattened grey-level
    volume ``flat`` (0 = outside the ROI), connected through the flat neighbour offsets
    ``offs`` (26 in 3D, the 8 in-plane ones in 2D), by one flood fill per zone. Returns per
    zone its grey level, size (voxels), the padded slice index of its first voxel (its slice
    in 2D) and the minimum of ``dist`` (same layout as ``flat``) over its voxels (1 when
    ``dist`` is empty). ``slice_size`` is the padded slice size (voxels)."""
    has_dist = dist.size == flat.size
    seen = np.zeros(flat.size, dtype=np.bool_)
    stack = np.empty(flat.size, dtype=np.int64)
    gl = np.empty(flat.size, dtype=np.int64)
    size = np.empty(flat.size, dtype=np.int64)
    zslice = np.empty(flat.size, dtype=np.int64)
    dmin = np.empty(flat.size, dtype=np.int64)
    nzones = 0
    for start in range(flat.size):
        g = flat[start]
        if g == 0 or seen[start]:
            continue
        seen[start] = True
        stack[0] = start
        top = 1
        count = 0
        best = np.iinfo(np.int64).max if has_dist else 1
        while top:
            top -= 1
            p = stack[top]
            count += 1
            if has_dist and dist[p] < best:
                best = dist[p]
            for o in offs:  # the padding (level 0) stops the fill at the box edge
                q = p + o
                if flat[q] == g and not seen[q]:
                    seen[q] = True
                    stack[top] = q
                    top += 1
        gl[nzones] = g
        size[nzones] = count
        zslice[nzones] = start // slice_size
        dmin[nzones] = best
        nzones += 1
    return gl[:nzones].copy(), size[:nzones].copy(), zslice[:nzones].copy(), dmin[:nzones].copy()


@_jit()
def mask_moments(morph_mask, int_mask, image):
    """One pass over the ROI box: voxel count, mean index (3,) and index covariance (3, 3;
    sample, N - 1; from centred indices in a second pass) of ``morph_mask``; voxel count,
    intensity sum and intensity-weighted index sums (3,) of ``int_mask``."""
    nz, ny, nx = morph_mask.shape
    n = 0
    s = np.zeros(3)
    n_int = 0
    total = 0.0
    ws = np.zeros(3)
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if morph_mask[z, y, x]:
                    n += 1
                    s[0] += z
                    s[1] += y
                    s[2] += x
                if int_mask[z, y, x]:
                    v = image[z, y, x]
                    n_int += 1
                    total += v
                    ws[0] += z * v
                    ws[1] += y * v
                    ws[2] += x * v
    mean = s / max(n, 1)
    cov = np.zeros((3, 3))
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if morph_mask[z, y, x]:
                    c0 = z - mean[0]
                    c1 = y - mean[1]
                    c2 = x - mean[2]
                    cov[0, 0] += c0 * c0
                    cov[0, 1] += c0 * c1
                    cov[0, 2] += c0 * c2
                    cov[1, 1] += c1 * c1
                    cov[1, 2] += c1 * c2
                    cov[2, 2] += c2 * c2
    cov[1, 0] = cov[0, 1]
    cov[2, 0] = cov[0, 2]
    cov[2, 1] = cov[1, 2]
    if n > 1:
        cov /= n - 1
    return n, mean, cov, n_int, total, ws


@_jit()
def pool_rows(arr, keep, bounds):
    """Mean of each row of ``arr`` (F, K) over the columns of each group
    ``bounds[g] .. bounds[g + 1]`` that ``keep`` flags, leaving out non-finite values
    (NaN where a group has none): (F, G)."""
    n_f = arr.shape[0]
    n_g = bounds.size - 1
    out = np.full((n_f, n_g), np.nan)
    for f in range(n_f):
        for g in range(n_g):
            total = 0.0
            count = 0
            for c in range(bounds[g], bounds[g + 1]):
                x = arr[f, c]
                if keep[c] and np.isfinite(x):
                    total += x
                    count += 1
            if count:
                out[f, g] = total / count
    return out


@_jit()
def _quantile(xs, q):
    """Linear-interpolation percentile ``q`` of sorted ``xs`` (NumPy's default method)."""
    n = xs.size
    h = (n - 1) * q / 100.0
    lo = int(np.floor(h))
    hi = min(lo + 1, n - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


@_jit(error_model="numpy")
def sorted_moments(xs):
    """Intensity statistics of sorted values ``xs`` (IBSI-1 3.3; rows in ``MOMENT_FEATURES``
    order): two passes (mean, then central moments and absolute deviations)."""
    n = xs.size
    mu = 0.0
    for v in xs:
        mu += v
    mu /= n
    p10 = _quantile(xs, 10.0)
    p25 = _quantile(xs, 25.0)
    med = _quantile(xs, 50.0)
    p75 = _quantile(xs, 75.0)
    p90 = _quantile(xs, 90.0)
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    mad = 0.0
    medad = 0.0
    sel_sum = 0.0
    sel_n = 0
    for v in xs:
        d = v - mu
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
        mad += abs(d)
        medad += abs(v - med)
        if p10 <= v <= p90:
            sel_sum += v
            sel_n += 1
    m2 /= n
    rmad = np.nan
    if sel_n:
        sel_mu = sel_sum / sel_n
        rmad = 0.0
        for v in xs:
            if p10 <= v <= p90:
                rmad += abs(v - sel_mu)
        rmad /= sel_n
    out = np.empty(16)
    out[0] = mu
    out[1] = m2
    out[2] = m3 / n / m2**1.5 if m2 > 0 else 0.0
    out[3] = m4 / n / m2**2 - 3.0 if m2 > 0 else 0.0
    out[4] = med
    out[5] = xs[0]
    out[6] = p10
    out[7] = p90
    out[8] = xs[n - 1]
    out[9] = p75 - p25
    out[10] = xs[n - 1] - xs[0]
    out[11] = mad / n
    out[12] = rmad
    out[13] = medad / n
    out[14] = np.sqrt(m2) / mu
    out[15] = (p75 - p25) / (p75 + p25)
    return out


MOMENT_FEATURES = (
    "mean",
    "var",
    "skew",
    "kurt",
    "median",
    "min",
    "p10",
    "p90",
    "max",
    "iqr",
    "range",
    "mad",
    "rmad",
    "medad",
    "cov",
    "qcod",
)


@_jit()
def bounding_box(mask):
    """Lower (inclusive) and upper (exclusive) index of the non-zero voxels of ``mask`` along
    each axis, in one pass (``np.nonzero`` would write three index arrays first); all zero
    when the mask is empty."""
    nz, ny, nx = mask.shape
    lo = np.array([nz, ny, nx])
    hi = np.zeros(3, dtype=np.int64)
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if mask[z, y, x]:
                    lo[0] = min(lo[0], z)
                    lo[1] = min(lo[1], y)
                    lo[2] = min(lo[2], x)
                    hi[0] = max(hi[0], z + 1)
                    hi[1] = max(hi[1], y + 1)
                    hi[2] = max(hi[2], x + 1)
    if hi[0] == 0:
        lo[:] = 0
    return lo, hi
