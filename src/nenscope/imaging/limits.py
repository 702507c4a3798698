"""Sanity limits checked before anything is allocated or decompressed.

A header that announces a 100 000-column image or a 0.0001 mm voxel, a zip member that
inflates a thousandfold, or an SUV scale that makes every voxel a tumour is refused here with
the limit named, instead of exhausting memory or time later. The limits are far beyond any
clinical PET, SPECT or CT (docs/robustness.md lists them).
"""

from __future__ import annotations

from collections.abc import Sequence

from nenscope.errors import NenscopeError

#: Largest Rows (0028,0010) or Columns (0028,0011) of an image.
MAX_MATRIX = 4096
#: Largest number of slices (files or frames) of one volume.
MAX_SLICES = 5000
#: Largest number of voxels of one volume (4 GiB as float32).
MAX_VOXELS = 2**30
#: Voxel sizes (pixel spacing and slice spacing) accepted, in mm.
VOXEL_MM_RANGE = (0.01, 100.0)
#: Largest SUV the scale factors may give in a loaded volume (the hottest bladder or
#: injection site is a few hundred).
MAX_SUV = 10_000.0

#: Zip archives: most members, largest total and single-member uncompressed size, and the
#: largest compression ratio of a member above :data:`ZIP_RATIO_MIN_BYTES`.
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_TOTAL_BYTES = 16 * 2**30
MAX_ZIP_MEMBER_BYTES = 2 * 2**30
MAX_ZIP_RATIO = 200.0
ZIP_RATIO_MIN_BYTES = 2**20


def check_grid(shape: Sequence[int], spacing_mm: Sequence[float | None], what: str) -> None:
    """Refuse a grid whose matrix, slice count, voxel count or voxel size is beyond the limits.

    Args:
        shape: (slices, rows, columns).
        spacing_mm: (slice, row, column) spacing in mm; ``None`` or 0 entries are not checked.
        what: the series, for the message.

    Raises:
        NenscopeError: naming the value and the limit.
    """
    n, rows, cols = (int(v) for v in shape)
    if rows > MAX_MATRIX or cols > MAX_MATRIX or rows < 1 or cols < 1:
        raise NenscopeError(
            f"{what}: {rows} × {cols} pixels per slice (Rows/Columns (0028,0010)/(0028,0011)); "
            f"the limit is 1–{MAX_MATRIX}"
        )
    if n > MAX_SLICES:
        raise NenscopeError(f"{what}: {n} slices; the limit is {MAX_SLICES}")
    if n * rows * cols > MAX_VOXELS:
        raise NenscopeError(
            f"{what}: {n} × {rows} × {cols} voxels; the limit is {MAX_VOXELS} ({MAX_VOXELS * 4 / 2**30:.0f} GiB)"
        )
    lo, hi = VOXEL_MM_RANGE
    for value in spacing_mm:
        if value and not lo <= float(value) <= hi:
            raise NenscopeError(
                f"{what}: voxel size {float(value):g} mm (PixelSpacing (0028,0030) or slice "
                f"spacing) is outside {lo:g}–{hi:g} mm"
            )
