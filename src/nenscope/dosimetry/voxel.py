"""Voxel-level dosimetry: TIA maps, FFT convolution with the voxel S-value kernel, local deposition.

Arrays here are 3-D ``(z, y, x)`` with ``spacing_mm``; geometry is carried by the caller
(:mod:`nenscope.dosimetry.pipeline` keeps the ``highdicom.Volume``).

Convolution (Dieudonné A et al., J Nucl Med 2010;51:1600-1607 for FFT-based voxel S-value
dosimetry) is written here rather than calling ``scipy.signal.fftconvolve`` because that
routine works in float64 when asked for accuracy, transforms the zero-padded kernel as a full
volume and re-transforms it on every call. :class:`KernelConvolver` instead

* works in float32/complex64 (the kernel and SPECT data carry 3–4 significant digits),
* pads each axis only to ``scipy.fft.next_fast_len(n + (k − 1)/2, real=True)``: the
  circular wrap-around then falls on the cropped border, so the "same" output equals the
  linear convolution,
* transforms axis by axis and skips the all-zero lines of the padded inputs (a pruned FFT:
  the 51³ kernel occupies < 1 % of the padded volume), and crops the inverse the same way,
* for the (even) voxel S-value kernel, computes its real spectrum by cosine sums over one
  octant (three small matrix products) instead of a padded 3-D FFT; the product with the
  image spectrum is then complex × real,
* works in place in one complex64 buffer (the float32 result is written into its leading
  bytes): about 1 GB of fresh memory for a 400×512×512 volume, where first-touch page faults
  cost as much as the FFTs on a VM,
* computes the kernel spectrum once per volume shape and voxel size and keeps it for the
  next call (e.g. for dose-rate maps at every time point), and uses ``workers`` threads of
  scipy's pocketfft.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence

import numpy as np
import scipy.fft as sfft

from nenscope.dosimetry._data import lambda_phys_per_h
from nenscope.dosimetry.kernel import local_s_value, resample_kernel
from nenscope.errors import NenscopeError


def _workers(workers: int | None) -> int:
    return workers if workers else max(1, len(os.sched_getaffinity(0)))


class KernelConvolver:
    """Linear 3-D convolution of volumes of one shape with one kernel ("same" output).

    Args:
        shape: volume shape (z, y, x).
        kernel: odd-sized float kernel, centre in the middle.
        workers: FFT threads (default: the CPUs this process may use).
        symmetric: the kernel is even in each axis, as voxel S-value kernels are up to their
            Monte Carlo noise. It is then symmetrised (mean of its 8 reflections), its
            spectrum is real and is computed as cosine sums over one octant (three small
            matrix products instead of a padded 3-D FFT), which halves its memory and time.
    """

    def __init__(
        self,
        shape: Sequence[int],
        kernel: np.ndarray,
        *,
        workers: int | None = None,
        symmetric: bool = False,
    ):
        if kernel.ndim != 3 or any(s % 2 == 0 for s in kernel.shape):
            raise NenscopeError("the dose kernel must be 3-D with odd sizes")
        self.shape = tuple(int(s) for s in shape)
        self.kshape = kernel.shape
        self.workers = _workers(workers)
        self.symmetric = symmetric
        # circular length L >= n + (k-1)/2 (and >= k) suffices for the cropped "same" output:
        # the wrapped-around tail of the linear convolution then only lands on indices that
        # are cropped away (~16 % fewer points than n + k - 1).
        self.fshape = tuple(
            sfft.next_fast_len(max(n + (k - 1) // 2, k), real=True)
            for n, k in zip(self.shape, kernel.shape, strict=True)
        )
        if symmetric:
            # kernel centred on index 0 (circularly): real spectrum, output needs no offset
            self._kf = self._real_spectrum(np.asarray(kernel, dtype=np.float64))
            self._off = (0, 0, 0)
        else:
            # kernel at indices [0, k): complex spectrum, output starts at the kernel centre
            self._kf = self._forward(np.ascontiguousarray(kernel, dtype=np.float32))
            self._off = tuple((k - 1) // 2 for k in kernel.shape)

    def _real_spectrum(self, k: np.ndarray) -> np.ndarray:
        """Real half-spectrum (n0, n1, n2//2+1) of the symmetrised, circularly centred kernel.

        K̂(q) = Σ_x K(x) Π_i cos(2π q_i x_i / n_i) over x in [−c, c]³ = the octant x ≥ 0 with
        weight 2 per non-zero coordinate; evaluated axis by axis as matrix products.
        """
        for ax in range(3):
            k = 0.5 * (k + np.flip(k, axis=ax))
        c = [(s - 1) // 2 for s in k.shape]
        q = k[c[0] :, c[1] :, c[2] :].copy()
        for ax in range(3):
            w = np.full(c[ax] + 1, 2.0)
            w[0] = 1.0
            q *= w.reshape([-1 if i == ax else 1 for i in range(3)])
        n0, n1, n2 = self.fshape

        def cos_matrix(n_freq: int, n: int, m: int) -> np.ndarray:
            return np.cos(2.0 * np.pi * np.outer(np.arange(n_freq), np.arange(m)) / n)

        t = q @ cos_matrix(n2 // 2 + 1, n2, c[2] + 1).T  # (c0+1, c1+1, h2)
        t = np.matmul(cos_matrix(n1, n1, c[1] + 1), t)  # (c0+1, n1, h2)
        c0m = cos_matrix(n0, n0, c[0] + 1).astype(np.float32)
        flat = t.reshape(c[0] + 1, -1).astype(np.float32)
        return (c0m @ flat).reshape(n0, n1, n2 // 2 + 1)

    def _inplace(self, fn, view: np.ndarray, axis: int) -> None:
        """Complex FFT of ``view`` along ``axis``, written back into ``view``.

        pocketfft works in place with ``overwrite_x`` (no new 0.5 GB array, no page faults);
        the copy-back only runs if a SciPy version ever returns a new array.
        """
        r = fn(view, axis=axis, workers=self.workers, overwrite_x=True)
        if not np.shares_memory(r, view):
            view[...] = r

    def _forward(self, a: np.ndarray) -> np.ndarray:
        """rfftn of ``a`` zero-padded to ``fshape`` into one complex64 buffer.

        Pruned: the last axis is transformed for the ``a``-sized block only (in slabs, so no
        large temporary), the middle axis only for the rows that hold data, the first axis in
        full; everything after the slab stage works in place.
        """
        n0, n1, n2 = self.fshape
        a0, a1, _ = a.shape
        buf = np.empty((n0, n1, n2 // 2 + 1), dtype=np.complex64)
        buf[a0:] = 0
        buf[:a0, a1:] = 0
        # slabs of ~8 MB: the temporaries are then recycled by malloc instead of being mapped
        # afresh (and page-faulted) for every slab
        step = max(1, (1 << 20) // max(1, a1 * (n2 // 2 + 1)))
        for i in range(0, a0, step):
            e = min(i + step, a0)
            buf[i:e, :a1] = sfft.rfft(a[i:e], n=n2, axis=2, workers=self.workers)
        self._inplace(sfft.fft, buf[:a0], 1)
        self._inplace(sfft.fft, buf, 0)
        return buf

    def __call__(self, volume: np.ndarray) -> np.ndarray:
        """Convolve ``volume`` (float32 result, same shape, kernel centred).

        The result lives in the leading bytes of the work buffer (written slab by slab behind
        the rows still to be read), so no further volume-sized array is allocated.
        """
        if volume.shape != self.shape:
            raise NenscopeError(f"volume shape {volume.shape} != convolver shape {self.shape}")
        n2 = self.fshape[2]
        o0, o1, o2 = self._off
        s0, s1, s2 = self.shape
        f = self._forward(np.asarray(volume, dtype=np.float32))
        f *= self._kf
        # inverse, in place, cropping after each axis so later axes transform only what is kept
        self._inplace(sfft.ifft, f, 0)
        v = f[o0 : o0 + s0]
        self._inplace(sfft.ifft, v, 1)
        # float32 rows of the output are shorter than the complex rows of f, and slab i is
        # written only after it has been read: the writes never reach rows still to be read
        out = f.view(np.float32).reshape(-1)[: s0 * s1 * s2].reshape(self.shape)
        step = max(1, (1 << 21) // max(1, s1 * n2))
        for i in range(0, s0, step):
            sl = sfft.irfft(v[i : i + step, o1 : o1 + s1], n=n2, axis=2, workers=self.workers)
            out[i : i + step] = sl[:, :, o2 : o2 + s2]
        return out


def _is_even(kernel: np.ndarray) -> bool:
    """True when ``kernel`` equals its reflection in every axis (resampled kernels are)."""
    return all(np.array_equal(kernel, np.flip(kernel, axis=ax)) for ax in range(3))


@functools.lru_cache(maxsize=1)
def _lu177_convolver(
    shape: tuple[int, ...], spacing_mm: tuple[float, ...], workers: int | None
) -> KernelConvolver:
    """The convolver of the shipped kernel (in Gy/(MBq·s)) for one volume shape and voxel
    size, kept for the next call (e.g. the dose-rate map of each time point): its spectrum
    costs about one FFT. One entry only: at 400×512×512 the spectrum holds 0.25–0.5 GB."""
    k = resample_kernel(spacing_mm) * np.float32(1e-3)  # mGy → Gy: no extra pass per call
    # the shipped Monte Carlo kernel is even up to its noise (2e-5 of the dose): only a kernel
    # that is exactly even takes the real-spectrum path, so results equal a plain convolution
    return KernelConvolver(shape, k, workers=workers, symmetric=_is_even(k))


def dose_kernel_gy(
    tia_mbq_s: np.ndarray,
    spacing_mm: Sequence[float],
    *,
    kernel: np.ndarray | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """Absorbed dose (Gy) by convolving a TIA map (MBq·s per voxel) with the 177Lu kernel.

    The kernel is resampled to ``spacing_mm`` (energy-conserving, see
    :func:`~nenscope.dosimetry.kernel.resample_kernel`) unless one is given (mGy/(MBq·s)).
    The result equals a float64 ``scipy.signal.fftconvolve(..., mode="same")`` within about
    1e-6 of the maximum dose (float32 round-off).
    """
    shape = tuple(int(n) for n in tia_mbq_s.shape)
    if kernel is None:
        conv = _lu177_convolver(shape, tuple(float(s) for s in spacing_mm), workers)
    else:
        k = np.asarray(kernel, dtype=np.float32) * np.float32(1e-3)  # mGy → Gy
        conv = KernelConvolver(shape, k, workers=workers, symmetric=_is_even(k))
    out = conv(tia_mbq_s)
    # float32 FFT round-off leaves ~1e-7 of the maximum around zero where there is no
    # activity; an absorbed dose cannot be negative
    np.maximum(out, 0.0, out=out)
    return out


def dose_local_gy(tia_mbq_s: np.ndarray, spacing_mm: Sequence[float]) -> np.ndarray:
    """Absorbed dose (Gy) by local energy deposition: D = Ã_voxel · S_local (one pass)."""
    s = np.float32(local_s_value(tuple(spacing_mm)) * 1e-3)
    return np.asarray(tia_mbq_s, dtype=np.float32) * s


def tia_map_mbq_s(
    activity_bq_ml: Sequence[np.ndarray],
    times_h: Sequence[float],
    spacing_mm: Sequence[float],
    *,
    nuclide: str = "Lu-177",
) -> np.ndarray:
    """Voxel-wise TIA (MBq·s per voxel) from co-registered activity-concentration maps.

    Trapezoid between the time points, constant activity before the first one, and after the
    last one an exponential tail with the voxel's own log-slope of the last two points,
    clamped to be no slower than physical decay (1 point: physical decay only). Written as a
    weighted sum: one pass over each time point plus one for the tail.
    """
    if len(activity_bq_ml) != len(times_h) or not activity_bq_ml:
        raise NenscopeError("need one activity map per time point")
    order = np.argsort(times_h)
    t = np.asarray(times_h, dtype=float)[order]
    maps = [activity_bq_ml[i] for i in order]
    if np.any(t <= 0):
        raise NenscopeError("time points must be after administration")
    vox_ml = float(np.prod(spacing_mm)) / 1000.0
    scale = np.float32(vox_ml * 1e-6 * 3600.0)  # Bq/ml → MBq per voxel, h → s
    lam_phys = lambda_phys_per_h(nuclide)
    # weights of the trapezoid with a constant head: w_0 = t0 + dt0/2, w_i = (dt_{i-1}+dt_i)/2
    dt = np.diff(t)
    w = np.zeros(len(t))
    w[0] = t[0]
    w[:-1] += dt / 2
    w[1:] += dt / 2
    acc = np.zeros(maps[0].shape, dtype=np.float32)
    for wi, m in zip(w, maps, strict=True):
        acc += np.float32(wi) * np.clip(np.asarray(m, dtype=np.float32), 0, None)
    last = np.clip(np.asarray(maps[-1], dtype=np.float32), 0, None)
    if len(t) >= 2:
        prev = np.clip(np.asarray(maps[-2], dtype=np.float32), 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.log(prev / last) / np.float32(t[-1] - t[-2])
        lam = np.where(np.isfinite(lam), np.maximum(lam, lam_phys), lam_phys).astype(np.float32)
    else:
        lam = np.float32(lam_phys)
    acc += last / lam
    acc *= scale
    return acc


def mean_in_mask(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``values`` inside a boolean mask (NaN when the mask is empty)."""
    m = np.asarray(mask, dtype=bool)
    return float(values[m].mean(dtype=np.float64)) if m.any() else math.nan
