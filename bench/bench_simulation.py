"""Benchmark of the PET/SPECT simulator (issue 4).

1. Whole-body PET at 4 mm (150 × 150 × 250 voxels): phantom + lesions + simulation +
   3 OSEM iterations × 8 subsets (the issue's budget: < 30 s on 2 cores).
2. Projector throughput at the same matrix size (150 × 150 × 250, 120 angles), forward +
   back-projection, against PyTomography's rotation-based parallel-hole projector
   (``SPECTSystemMatrix`` without attenuation/PSF: the same parallel-beam geometry), measured
   in the same run. If PyTomography (which needs torch) is not installed, the peer is a plain
   ``scipy.ndimage.rotate`` projector (rotate every slice, sum along rows).

Timings are wall-clock on a shared machine: other work on the same cores makes them noisy.
Run: ``python bench/bench_simulation.py``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage

N, NZ, VOXEL_MM, N_ANGLES = 150, 250, 4.0, 120


def _time(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_whole_body() -> float:
    from nenscope.simulation.projector import get_projector
    from nenscope.simulation.study import SimulationConfig, simulate_study

    cfg = SimulationConfig(
        tracer="68Ga-DOTATATE",
        seed=1,
        n_lesions=5,
        voxel_mm=VOXEL_MM,
        iterations=3,
        subsets=8,
        minutes_per_bed=2.5,
    )
    get_projector.cache_clear()
    t_cold = _time(lambda: simulate_study(cfg))
    t_warm = _time(lambda: simulate_study(cfg))
    sim = simulate_study(cfg)
    print(
        f"whole-body PET {sim.emission.array.shape} at {VOXEL_MM} mm, simulation + OSEM 3 it x 8 subsets: "
        f"{t_cold:.2f} s (first call, builds the system matrix), {t_warm:.2f} s (matrix cached); "
        f"budget 30 s"
    )
    return t_cold


def _ours(volume: np.ndarray):
    from nenscope.simulation.pet import _matmul
    from nenscope.simulation.projector import get_projector

    proj = get_projector(N, VOXEL_MM, N_ANGLES, 8)
    x = proj.to_fov(volume)

    def run():
        y = _matmul(proj.matrix, x)
        _matmul(proj.transpose, y)

    return run


def _pytomography(volume: np.ndarray):
    import torch
    from pytomography.metadata.SPECT import SPECTObjectMeta, SPECTProjMeta
    from pytomography.projectors.SPECT import SPECTSystemMatrix

    torch.set_num_threads(2)
    angles = np.arange(N_ANGLES) * 180.0 / N_ANGLES
    obj_meta = SPECTObjectMeta(dr=(VOXEL_MM / 10,) * 3, shape=(N, N, NZ))
    proj_meta = SPECTProjMeta(
        projection_shape=(N, NZ),
        dr=(VOXEL_MM / 10,) * 2,
        angles=angles,
        radii=np.full(N_ANGLES, 30.0),
    )
    sm = SPECTSystemMatrix(
        obj2obj_transforms=[], proj2proj_transforms=[], object_meta=obj_meta, proj_meta=proj_meta
    )
    obj = torch.tensor(np.ascontiguousarray(volume.transpose(2, 1, 0)))

    def run():
        with torch.no_grad():
            p = sm.forward(obj)
            sm.backward(p)

    return run


def _scipy_rotate(volume: np.ndarray):
    angles = np.arange(N_ANGLES) * 180.0 / N_ANGLES

    def run():
        back = np.zeros_like(volume)
        for a in angles:
            p = ndimage.rotate(volume, a, axes=(2, 1), reshape=False, order=1).sum(axis=1)
            b = np.broadcast_to(p[:, None, :], volume.shape)
            back += ndimage.rotate(b, -a, axes=(2, 1), reshape=False, order=1)

    return run


def bench_projector() -> tuple[float, float, str]:
    rng = np.random.default_rng(0)
    volume = rng.random((NZ, N, N)).astype(np.float32)
    ours = _ours(volume)
    ours()  # build the matrix outside the timing
    t_ours = _time(ours, repeat=3)
    try:
        peer = _pytomography(volume)
        name = "PyTomography SPECTSystemMatrix (torch CPU)"
    except ImportError as exc:
        print(f"PyTomography not importable ({exc}); peer: scipy.ndimage.rotate projector")
        peer = _scipy_rotate(volume)
        name = "scipy.ndimage.rotate projector"
    peer()
    t_peer = _time(peer, repeat=1)
    mvox_angles = N * N * NZ * N_ANGLES / 1e6
    print(
        f"projector forward+back, {N}x{N}x{NZ}, {N_ANGLES} angles: nenscope sparse {t_ours:.2f} s "
        f"({mvox_angles / t_ours:.0f} Mvoxel-angles/s), {name} {t_peer:.2f} s "
        f"({mvox_angles / t_peer:.0f} Mvoxel-angles/s); ratio peer/nenscope = {t_peer / t_ours:.1f}x"
    )
    return t_ours, t_peer, name


def main() -> None:
    bench_whole_body()
    bench_projector()


if __name__ == "__main__":
    main()
