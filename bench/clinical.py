"""A clinical-size PET/CT fixture for the benchmarks (issue 17), built once and cached.

The demo-size virtual patient (68Ga-DOTATATE, seed 5, 6 lesions, and its 18F-FDG partner with
its own frame of reference; 4 mm voxels) is simulated, then its PET, CT and truth label maps
are resampled about the same centre to the grids of a clinical whole-body scanner and written
as DICOM by :func:`nenscope.simulation.output.write_study` (one file per slice, full QIBA SUV
headers):

* ``200``: PET 200×200×400 at 4×4×2.5 mm (800 mm field, 1000 mm axial), CT 512×512×400
  (1.5625×1.5625×2.5 mm);
* ``256``: PET 256×256×450 at 3.125×3.125×2.2 mm, CT 512×512×450.

PET and CT are trilinear (air −1000 HU and 0 Bq/ml outside the simulated field), labels
nearest-neighbour. The files go to ``bench/results/clinical-<grid>/{sstr,fdg}`` (git-ignored);
a ``complete`` marker makes later runs reuse them.

Usage: ``python bench/clinical.py [--grid 200|256]`` (prints the folders).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
from scipy import ndimage

from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulatedStudy, SimulationConfig, simulate_study

RESULTS = Path(__file__).resolve().parent / "results"

#: grid name -> ((PET shape z, y, x), PET spacing mm, CT in-plane size); both span the
#: same field, CT slices are the PET slices.
GRIDS = {
    "200": ((400, 200, 200), (2.5, 4.0, 4.0), 512),
    "256": ((450, 256, 256), (2.2, 3.125, 3.125), 512),
}
TRACERS = (("68Ga-DOTATATE", "sstr"), ("18F-FDG", "fdg"))


def _target_affine(
    affine: np.ndarray, shape: tuple[int, ...], new_shape: tuple[int, ...], new_spacing
) -> np.ndarray:
    """Index -> LPS affine of a grid of ``new_shape``/``new_spacing`` with the same axes
    directions and the same centre as the grid of ``affine``/``shape``."""
    directions = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    out = np.eye(4)
    out[:3, :3] = directions * np.asarray(new_spacing, dtype=float)
    centre = affine @ np.append((np.asarray(shape) - 1) / 2.0, 1.0)
    out[:3, 3] = centre[:3] - out[:3, :3] @ ((np.asarray(new_shape) - 1) / 2.0)
    return out


def _regrid(
    array: np.ndarray,
    affine: np.ndarray,
    new_affine: np.ndarray,
    new_shape: tuple[int, ...],
    *,
    order: int,
    cval: float,
    dtype,
) -> np.ndarray:
    """``array`` sampled on the grid of ``new_affine`` (axis-aligned: a zoom and a shift)."""
    index_map = np.linalg.inv(affine) @ new_affine
    return ndimage.affine_transform(
        np.asarray(array, dtype=np.float32 if order else array.dtype),
        np.diag(index_map[:3, :3]),
        offset=index_map[:3, 3],
        output_shape=new_shape,
        order=order,
        cval=cval,
        prefilter=False,
        output=dtype,
    )


def _volume_on(vol: hd.Volume, array: np.ndarray, affine: np.ndarray) -> hd.Volume:
    return hd.Volume(array, affine, "PATIENT", frame_of_reference_uid=vol.frame_of_reference_uid)


def regrid_study(sim: SimulatedStudy, grid: str) -> SimulatedStudy:
    """``sim`` with its PET, truth and CT resampled to the clinical ``grid`` (see GRIDS)."""
    pet_shape, pet_spacing, ct_pixels = GRIDS[grid]
    src = sim.emission
    shape = tuple(src.spatial_shape)
    pet_affine = _target_affine(src.affine, shape, pet_shape, pet_spacing)
    field_mm = pet_shape[2] * pet_spacing[2]
    ct_shape = (pet_shape[0], ct_pixels, ct_pixels)
    ct_spacing = (pet_spacing[0], field_mm / ct_pixels, field_mm / ct_pixels)
    ct_affine = _target_affine(sim.ct.affine, tuple(sim.ct.spatial_shape), ct_shape, ct_spacing)

    def pet(a: np.ndarray) -> np.ndarray:
        return _regrid(a, src.affine, pet_affine, pet_shape, order=1, cval=0.0, dtype=np.float32)

    def labels(vol: hd.Volume) -> hd.Volume:
        arr = _regrid(vol.array, vol.affine, pet_affine, pet_shape, order=0, cval=0, dtype=None)
        return _volume_on(vol, arr, pet_affine)

    frames = [
        dataclasses.replace(
            f,
            volume=_volume_on(f.volume, pet(f.volume.array), pet_affine),
            truth_bqml=pet(f.truth_bqml),
        )
        for f in sim.frames
    ]
    ct = _regrid(
        sim.ct.array, sim.ct.affine, ct_affine, ct_shape, order=1, cval=-1000.0, dtype=np.float32
    )
    return dataclasses.replace(
        sim,
        frames=frames,
        ct=_volume_on(sim.ct, ct, ct_affine),
        organs=labels(sim.organs),
        lesion_labels=labels(sim.lesion_labels),
    )


def clinical_study(grid: str = "200") -> dict[str, Path]:
    """Folders ``{"sstr": ..., "fdg": ...}`` of the clinical-size fixture, built if missing."""
    root = RESULTS / f"clinical-{grid}"
    done = root / "complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        for tracer, name in TRACERS:
            sim = simulate_study(SimulationConfig(tracer=tracer, seed=5, n_lesions=6))
            write_study(regrid_study(sim, grid), root / name)
        done.write_text("ok\n")
    return {name: root / name for _, name in TRACERS}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="200")
    args = ap.parse_args(argv or [])
    for name, path in clinical_study(args.grid).items():
        print(f"{name}: {path} ({len(list(path.rglob('*.dcm')))} DICOM files)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
