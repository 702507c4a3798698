"""Figures for the reports: MIPs with lesion outlines, fused PET/CT lesion thumbnails (analysis);
time-activity curves and dose-volume histograms (dosimetry).

All figures are rendered off-screen (Agg) to PNG bytes, so the HTML reports can embed them.
Volumes are ``highdicom.Volume`` in PATIENT coordinates; they are re-ordered (no resampling)
to the display orientation "FPL" (axis 0 head→feet, axis 1 anterior→posterior, axis 2
right→left), so a coronal MIP shows the head on top and the patient's right on the viewer's
left (radiological convention).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import highdicom as hd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from scipy import ndimage  # noqa: E402

if TYPE_CHECKING:
    from nenscope.dosimetry import DosimetryResult

DISPLAY_ORIENTATION = "FPL"
_LESION_COLOURS = plt.get_cmap("tab10").colors


def to_display(volume: hd.Volume) -> tuple[NDArray, tuple[float, float, float]]:
    """Return the array in FPL order and its voxel spacing (mm) along those axes."""
    oriented = volume.to_patient_orientation(DISPLAY_ORIENTATION)
    return np.asarray(oriented.array), tuple(float(s) for s in oriented.spacing)


def png_bytes(fig: plt.Figure, dpi: int = 110) -> bytes:
    """Render ``fig`` to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor=fig.get_facecolor())
    plt.close(fig)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding in HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _outline(ax, mask2d: NDArray, spacing_rc: tuple[float, float], colour, width: float) -> None:
    """Draw the outline of a 2-D mask on an ``imshow`` whose extent is (0, w, h, 0) in mm."""
    if not mask2d.any():
        return
    padded = np.pad(mask2d.astype(float), 1)
    rows = (np.arange(padded.shape[0]) - 0.5) * spacing_rc[0]
    cols = (np.arange(padded.shape[1]) - 0.5) * spacing_rc[1]
    ax.contour(cols, rows, padded, levels=[0.5], colors=[colour], linewidths=width)


def numbered_outlines(
    ax,
    labels: NDArray,
    axis: int,
    spacing_rc: tuple[float, float],
    colour_of: Callable[[int, int], Any],
    *,
    fontsize: int = 9,
) -> None:
    """Outline each label of ``labels`` (display order) projected along ``axis`` on a MIP
    drawn with extent (0, w, h, 0) in mm, and write its number beside it; ``colour_of(k, n)``
    gives the colour of the ``k``-th label, of value ``n``."""
    lab = np.asarray(labels)
    # each label's footprint from its bounding box (one pass for all the boxes, not a
    # whole-volume comparison per label)
    boxes = ndimage.find_objects(lab if lab.dtype.kind in "iu" else lab.astype(np.int64))
    plane = tuple(d for ax, d in enumerate(lab.shape) if ax != axis)
    present = [(n, box) for n, box in enumerate(boxes, start=1) if box is not None]
    for k, (n, box) in enumerate(present):
        footprint = np.zeros(plane, dtype=bool)
        footprint[tuple(b for ax, b in enumerate(box) if ax != axis)] = (lab[box] == n).any(
            axis=axis
        )
        colour = colour_of(k, int(n))
        _outline(ax, footprint, spacing_rc, colour, 1.2)
        rows, cols = np.nonzero(footprint)
        ax.text(
            cols.max() * spacing_rc[1] + 3,
            rows.min() * spacing_rc[0],
            str(int(n)),
            color=colour,
            fontsize=fontsize,
            fontweight="bold",
            va="top",
        )


def _colour_bar(fig: plt.Figure, image, ax, label: str, *, dark: bool = False) -> None:
    """A colour bar beside ``ax`` for ``image``, labelled with ``label`` and the window."""
    lo, hi = image.get_clim()
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02, shrink=0.8)
    bar.set_label(f"{label} (window {lo:g}–{hi:.3g})", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if dark:
        bar.ax.yaxis.label.set_color("white")
        bar.ax.tick_params(colors="white")


def mip_png(
    suv: hd.Volume,
    labels: hd.Volume | None = None,
    *,
    view: str = "coronal",
    suv_max_display: float | None = None,
    title: str = "",
    unit: str = "SUV",
) -> bytes:
    """Maximum-intensity projection (inverse grey, SUV 0..``suv_max_display``) with outlines
    and a colour bar that states the window.

    Parameters
    ----------
    suv : SUV volume.
    labels : lesion label volume on the same grid (0 = background, n = lesion n), optional.
    view : ``"coronal"`` (projection along anterior-posterior) or ``"sagittal"``.
    suv_max_display : upper end of the grey scale in SUV; default the 99.9th percentile.
    title : a title above the image (none by default).
    unit : the colour bar's label (the SUV type, e.g. ``"SUVbw"``).
    """
    arr, (s_f, s_p, s_l) = to_display(suv)
    axis, col_spacing = {"coronal": (1, s_l), "sagittal": (2, s_p)}[view]
    mip = arr.max(axis=axis)
    vmax = suv_max_display or float(np.percentile(mip, 99.9)) or 1.0
    height_mm, width_mm = mip.shape[0] * s_f, mip.shape[1] * col_spacing
    fig_h = 7.0
    fig, ax = plt.subplots(figsize=(fig_h * width_mm / height_mm + 1.4, fig_h))
    image = ax.imshow(
        mip,
        cmap="gray_r",
        vmin=0,
        vmax=vmax,
        extent=(0, width_mm, height_mm, 0),
        interpolation="bilinear",
    )
    if labels is not None:
        lab, _ = to_display(labels)
        numbered_outlines(
            ax,
            lab,
            axis,
            (s_f, col_spacing),
            lambda k, _n: _LESION_COLOURS[k % len(_LESION_COLOURS)],
        )
    ax.set_axis_off()
    side = "R" if view == "coronal" else "A"
    other = "L" if view == "coronal" else "P"
    ax.text(2, height_mm - 4, side, color="#444", fontsize=9)
    ax.text(width_mm - 10, height_mm - 4, other, color="#444", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    _colour_bar(fig, image, ax, unit)
    return png_bytes(fig)


def lesion_pngs(
    suv: hd.Volume,
    labels: hd.Volume,
    lesion_ids: list[int],
    *,
    ct: hd.Volume | None = None,
    half_width_mm: float = 50.0,
    unit: str = "SUV",
) -> dict[int, bytes]:
    """Axial PET/CT fusion through each lesion's centroid, cropped, with its outline and a
    colour bar: PET window 0 to the lesion's maximum (``unit``), CT window -160..240 HU.

    The volumes are re-ordered once and every lesion is located by one
    ``scipy.ndimage.find_objects`` pass, so the cost does not grow with whole-volume passes
    per lesion. ``ct`` must be on the same grid as ``suv`` (resample it first); without CT the
    PET alone is shown.
    """
    arr, (_, s_p, s_l) = to_display(suv)
    lab, _ = to_display(labels)
    ct_arr = to_display(ct)[0] if ct is not None else None
    boxes = ndimage.find_objects(np.asarray(lab, dtype=np.int32))
    out: dict[int, bytes] = {}
    for lesion_id in lesion_ids:
        box = boxes[lesion_id - 1] if 0 < lesion_id <= len(boxes) else None
        if box is None:
            raise ValueError(f"lesion {lesion_id} is not in the label volume")
        local = lab[box] == lesion_id
        f, p, l_ = (
            int(round(c)) + b.start
            for c, b in zip(np.argwhere(local).mean(axis=0), box, strict=True)
        )
        hp, hl = int(half_width_mm / s_p), int(half_width_mm / s_l)
        p0, p1 = max(p - hp, 0), min(p + hp + 1, arr.shape[1])
        l0, l1 = max(l_ - hl, 0), min(l_ + hl + 1, arr.shape[2])
        pet = arr[f, p0:p1, l0:l1]
        extent = (0, (l1 - l0) * s_l, (p1 - p0) * s_p, 0)
        vmax = max(float(arr[box][local].max()), 1e-6)
        fig, ax = plt.subplots(figsize=(3.3, 2.6 * (p1 - p0) * s_p / ((l1 - l0) * s_l)))
        fig.patch.set_facecolor("black")
        if ct_arr is not None:
            ax.imshow(
                ct_arr[f, p0:p1, l0:l1],
                cmap="gray",
                vmin=-160,
                vmax=240,
                extent=extent,
                interpolation="bilinear",
            )
            alpha = np.clip(pet / vmax, 0, 1) * 0.85
            image = ax.imshow(
                pet,
                cmap="hot",
                vmin=0,
                vmax=vmax,
                alpha=alpha,
                extent=extent,
                interpolation="bilinear",
            )
        else:
            image = ax.imshow(
                pet, cmap="hot", vmin=0, vmax=vmax, extent=extent, interpolation="bilinear"
            )
        _outline(ax, lab[f, p0:p1, l0:l1] == lesion_id, (s_p, s_l), "#00e5ff", 1.0)
        ax.set_axis_off()
        _colour_bar(fig, image, ax, unit, dark=True)
        out[lesion_id] = png_bytes(fig, dpi=100)
    return out


def tac_png(result: DosimetryResult) -> bytes:
    """All time-activity curves (points and fitted/integrated curve), one panel per region."""
    n = max(1, len(result.regions))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, r in zip(axes.ravel(), result.regions, strict=False):
        f = r.fit
        t_end = max(max(f.times_h) * 1.3, 3 * f.t_eff_h if math.isfinite(f.t_eff_h) else 0, 24.0)
        t = np.linspace(0.0, t_end, 400)
        ax.plot(t, f.predict(t), "-", color="C0", label=f.model)
        ax.plot(f.times_h, f.activity_mbq, "o", color="C3", label="measured")
        ax.set_title(f"{r.name}: TIA {f.tia_mbq_h:.4g} MBq·h", fontsize=9)
        ax.set_xlabel("time after administration (h)")
        ax.set_ylabel("activity (MBq)")
        ax.legend(fontsize=7)
        ax.set_ylim(bottom=0)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return png_bytes(fig, dpi=100)


def dvh_png(result: DosimetryResult) -> bytes | None:
    """Cumulative DVHs of all regions in one plot, or None without a dose map."""
    if not result.dvhs:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for name, d in result.dvhs.items():
        ax.plot(d.dose_gy, 100 * d.volume_fraction, label=name)
    ax.set_xlabel("absorbed dose (Gy)")
    ax.set_ylabel("volume (%)")
    ax.set_ylim(0, 101)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png_bytes(fig, dpi=100)
