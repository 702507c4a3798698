"""The body's box: the part of the emission grid that the analysis works on (issue 17).

A whole-body PET field of view is mostly air: the body's bounding box holds 12-16 % of the
voxels of a clinical grid. :func:`analyze_volume <nenscope.analysis.volume.analyze_volume>`
runs every whole-volume stage on :func:`body_box` (the body and the organ masks, plus a
margin) and puts the results back on the full grid with :class:`BodyBox`.

The margin makes the cropped analysis equal to the uncropped one, voxel for voxel, in and
around the body: it is wider than the reach of the widest filter chain of the analysis,
the ~8 mm block grid of the reference search (:mod:`~nenscope.analysis.reference`: block
means, a one-block Gaussian truncated at 4 blocks, a ~30 mm window: 6 blocks from the body's
edge) and the 20 mm Gaussian local mean of the per-slice noise floor (radius 36 mm), with
room for a lesion's measurement ring (~20-30 mm) on top of the threshold maps' reach. The
box starts and ends on that block grid (or at the grid's own edge), so the cropped block
means are the full grid's blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nenscope.analysis.reference import _COARSE_MM
from nenscope.analysis.thresholds import _BG_BLOCK_MM

__all__ = ["BodyBox", "body_box"]

#: margin (mm) around the body and the organ masks (see the module's docstring)
CROP_MARGIN_MM = 60.0
# ... and at least this many blocks of the reference search's coarse grid (coarse voxels)
_MARGIN_BLOCKS = 6


@dataclass(frozen=True)
class BodyBox:
    """A box of the emission grid (``slices``) inside a grid of ``shape``."""

    slices: tuple[slice, slice, slice]
    shape: tuple[int, int, int]

    @property
    def offset(self) -> NDArray[np.intp]:
        """Index of the box's first voxel on the full grid."""
        return np.array([s.start for s in self.slices], dtype=np.intp)

    @property
    def is_full(self) -> bool:
        """True when the box is the whole grid (nothing to crop)."""
        return all(
            s.start == 0 and s.stop == n for s, n in zip(self.slices, self.shape, strict=True)
        )

    def crop(self, array: NDArray) -> NDArray:
        """``array`` (full grid) inside the box, as a contiguous copy (the array itself when
        the box is the whole grid)."""
        return array if self.is_full else np.ascontiguousarray(array[self.slices])

    def affine(self, affine: NDArray) -> NDArray[np.float64]:
        """The index -> LPS (mm) affine of the box from the full grid's."""
        a = np.array(affine, dtype=float)
        a[:3, 3] = a[:3, :3] @ self.offset + a[:3, 3]
        return a

    def paste(self, array: NDArray) -> NDArray:
        """``array`` (box) on the full grid, zero (``False``) outside the box."""
        if self.is_full:
            return array
        out = np.zeros(self.shape, dtype=array.dtype)
        out[self.slices] = array
        return out

    def max_outside(self, array: NDArray) -> float | None:
        """Largest value of ``array`` (full grid) outside the box, ``None`` if there is none."""
        slabs = []
        for ax, s in enumerate(self.slices):
            before = [slice(None)] * 3
            before[ax] = slice(0, s.start)
            after = [slice(None)] * 3
            after[ax] = slice(s.stop, None)
            slabs += [array[tuple(before)], array[tuple(after)]]
        values = [float(np.max(slab)) for slab in slabs if slab.size]
        return max(values) if values else None


def _block_factors(spacing_mm: tuple[float, float, float]) -> list[int]:
    """Per axis: the least common multiple of the block sizes (voxels) of the reference
    search's coarse grid and of the local-background threshold (both ~8 mm blocks)."""
    return [
        math.lcm(max(1, int(round(_COARSE_MM / s))), max(1, int(round(_BG_BLOCK_MM / s))))
        for s in spacing_mm
    ]


def _extent(mask: NDArray[np.bool_]) -> list[tuple[int, int]] | None:
    """First and one-past-last index of ``mask`` along each axis, ``None`` if empty."""
    out = []
    for ax in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))
        if hit.size == 0:
            return None
        out.append((int(hit[0]), int(hit[-1]) + 1))
    return out


def body_box(
    body: NDArray[np.bool_],
    spacing_mm: tuple[float, float, float],
    masks: dict[str, NDArray[np.bool_]] | None = None,
) -> BodyBox:
    """The box of the analysis: the body and the organ masks plus :data:`CROP_MARGIN_MM`
    (at least six coarse blocks), aligned to the ~8 mm block grid; the whole grid when the
    body is empty."""
    shape = tuple(int(n) for n in body.shape)
    extents = [e for e in (_extent(m) for m in (body, *(masks or {}).values())) if e]
    if not extents:
        return BodyBox(tuple(slice(0, n) for n in shape), shape)  # type: ignore[arg-type]
    slices = []
    for ax, (sp, f, n) in enumerate(
        zip(spacing_mm, _block_factors(spacing_mm), shape, strict=True)
    ):
        lo = min(e[ax][0] for e in extents)
        hi = max(e[ax][1] for e in extents)
        margin = max(int(math.ceil(CROP_MARGIN_MM / sp)), _MARGIN_BLOCKS * f)
        start = max(0, (lo - margin) // f * f)
        stop = min(n, -(-(hi + margin) // f) * f)
        slices.append(slice(start, stop))
    return BodyBox(tuple(slices), shape)  # type: ignore[arg-type]
