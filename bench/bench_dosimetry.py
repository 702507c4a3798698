"""Voxel dosimetry of a 512×512×400 TIA volume: nenscope vs float64 scipy.signal.fftconvolve.

Peer: ``scipy.signal.fftconvolve(tia.astype(float64), kernel.astype(float64), mode="same")``,
single-threaded, the common approach (e.g. PyTheranostics' voxel S-value dosimetry). Ours:
:func:`nenscope.dosimetry.dose_kernel_gy` (float32, pruned axis-by-axis FFT at
``next_fast_len`` sizes, all CPU threads, the kernel spectrum kept between calls: the first
call, which computes it, is reported apart). Both use the shipped 51³ 177Lu kernel at its own
4.7952 mm voxel, measured in the same run; the maximum difference is reported relative to the
maximum dose. Timings on a shared machine are noisy: each side is run several times and its minimum
reported (the least-disturbed run); CPU time (all threads) is printed too, as a measure of the
work done that other processes on the machine hardly disturb.

Usage: ``python bench/bench_dosimetry.py [--shape Z Y X] [--repeat N]``
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np
from scipy.signal import fftconvolve

from nenscope.dosimetry.kernel import lu177_kernel
from nenscope.dosimetry.voxel import _lu177_convolver, dose_kernel_gy


def _phantom(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A body-like TIA map (MBq·s per voxel): elliptic body, hot organs and lesions, noise."""
    rng = np.random.default_rng(seed)
    z, y, x = (np.arange(n, dtype=np.float32) for n in shape)
    zc, yc, xc = (n / 2 for n in shape)
    body = ((y[None, :, None] - yc) / (0.35 * shape[1])) ** 2 + (
        (x[None, None, :] - xc) / (0.45 * shape[2])
    ) ** 2 <= 1.0
    tia = np.where(body, np.float32(1.0), np.float32(0.0)) * np.ones((shape[0], 1, 1), np.float32)
    for _ in range(40):
        c = [rng.uniform(0.2, 0.8) * n for n in shape]
        r = rng.uniform(3, 15)
        sl = tuple(
            slice(max(int(ci - r), 0), min(int(ci + r) + 1, n))
            for ci, n in zip(c, shape, strict=True)
        )
        zz, yy, xx = np.meshgrid(*[np.arange(s.start, s.stop) for s in sl], indexing="ij")
        inside = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        tia[sl][inside] += rng.uniform(5, 50)
    tia *= rng.gamma(50.0, 1 / 50.0, size=shape).astype(np.float32)
    return tia * np.float32(100.0)


def _best(fn, repeat: int) -> tuple[float, float, object]:
    """(wall s, CPU s, last result) of ``fn()``: the minimum of each time over ``repeat`` runs."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


def measure(shape: tuple[int, int, int], repeat: int = 3, peer_repeat: int = 2) -> dict:
    """Time nenscope and the peer on the phantom; print each line and return the numbers."""
    kernel, sp = lu177_kernel()
    spacing = (sp, sp, sp)
    tia = _phantom(shape)
    print(
        f"volume {shape} float32, kernel {kernel.shape} at {sp} mm, "
        f"CPUs {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f}"
    )
    _lu177_convolver.cache_clear()
    first = _best(lambda: dose_kernel_gy(tia, spacing), 1)[:2]
    print(
        f"nenscope first call (kernel spectrum computed): {first[0]:.2f} s wall, {first[1]:.2f} s CPU"
    )
    ours = _best(lambda: dose_kernel_gy(tia, spacing), repeat)
    print(
        f"nenscope cached spectrum (float32, pruned FFT, threads): {ours[0]:.2f} s wall, {ours[1]:.2f} s CPU"
    )
    dose = ours[2]
    peer = _best(
        lambda: fftconvolve(tia.astype(np.float64), kernel.astype(np.float64), mode="same"),
        peer_repeat,
    )
    print(
        f"peer scipy.signal.fftconvolve float64, 1 thread: {peer[0]:.2f} s wall, {peer[1]:.2f} s CPU"
    )
    ref = peer[2] * 1e-3
    err = float(np.abs(dose - ref).max() / np.abs(ref).max())
    ratios = {
        "wall": peer[0] / ours[0],
        "cpu": peer[1] / ours[1],
        "wall_first": peer[0] / first[0],
        "cpu_first": peer[1] / first[1],
        "max_rel_difference": err,
    }
    print(f"max |difference| / max dose: {err:.2e} (goal <= 1e-5)")
    print(
        f"ratio (peer / nenscope), goal >= 7x: cached spectrum {ratios['wall']:.1f}x wall, "
        f"{ratios['cpu']:.1f}x CPU; first call {ratios['wall_first']:.1f}x wall, "
        f"{ratios['cpu_first']:.1f}x CPU (load average now {os.getloadavg()[0]:.1f})"
    )
    return ratios


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=[400, 512, 512])
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of nenscope (the minimum is reported)"
    )
    ap.add_argument(
        "--peer-repeat", type=int, default=2, help="runs of the peer (the minimum is reported)"
    )
    args = ap.parse_args(argv if argv is not None else [])
    measure(tuple(args.shape), args.repeat, args.peer_repeat)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
