"""IBSI-2 convolutional filters: mean, Laplacian of Gaussian, Laws, Gabor, separable wavelets.

Arrays are indexed (slice, row, column) = (z, y, x). Filter names that spell one 1D kernel per
axis (Laws ``"E5L5S5"``, wavelet sub-band ``"LHL"``) list them in IBSI order x, y, z, i.e.
column, row, slice. Boundary conditions use IBSI names:

=========  ===================================  =====================
IBSI       meaning                              SciPy / NumPy mode
=========  ===================================  =====================
zero       zero padding                         constant (0)
nearest    replicate the edge value             nearest / edge
periodic   wrap around                          wrap
mirror     symmetric (d c b a | a b c d)        reflect / symmetric
=========  ===================================  =====================

Reference: Depeursinge A et al., IBSI-2 reference manual, arXiv:2006.05470.
"""

from __future__ import annotations

import itertools

import numpy as np
import pywt
from scipy import ndimage, signal

from nenscope.errors import NenscopeError

_NDIMAGE_MODE = {"zero": "constant", "nearest": "nearest", "periodic": "wrap", "mirror": "reflect"}
_PAD_MODE = {"zero": "constant", "nearest": "edge", "periodic": "wrap", "mirror": "symmetric"}

# Laws kernels as normalised in the IBSI-2 manual (unit L2 norm).
LAWS_KERNELS: dict[str, np.ndarray] = {
    "L3": np.array([1.0, 2.0, 1.0]) / np.sqrt(6.0),
    "E3": np.array([-1.0, 0.0, 1.0]) / np.sqrt(2.0),
    "S3": np.array([-1.0, 2.0, -1.0]) / np.sqrt(6.0),
    "L5": np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / np.sqrt(70.0),
    "E5": np.array([-1.0, -2.0, 0.0, 2.0, 1.0]) / np.sqrt(10.0),
    "S5": np.array([-1.0, 0.0, 2.0, 0.0, -1.0]) / np.sqrt(6.0),
    "W5": np.array([-1.0, 2.0, 0.0, -2.0, 1.0]) / np.sqrt(10.0),
    "R5": np.array([1.0, -4.0, 6.0, -4.0, 1.0]) / np.sqrt(70.0),
}


def _mode(boundary: str, table: dict[str, str]) -> str:
    if boundary not in table:
        raise NenscopeError(f"boundary must be one of {sorted(table)}, got {boundary!r}")
    return table[boundary]


def _axes(dims: int) -> tuple[int, ...]:
    if dims not in (2, 3):
        raise NenscopeError("dims must be 2 (in-plane, slice by slice) or 3")
    return (2, 1) if dims == 2 else (2, 1, 0)


def mean_filter(
    image: np.ndarray, support_voxels: int, *, boundary: str = "zero", dims: int = 3
) -> np.ndarray:
    """Mean over a cube (3D) or square (2D, in-plane) of ``support_voxels`` per side (IBSI-2 2.1)."""
    if support_voxels < 1 or support_voxels % 2 == 0:
        raise NenscopeError("the mean filter support must be an odd number of voxels")
    size = (1 if dims == 2 else support_voxels, support_voxels, support_voxels)
    _axes(dims)
    return ndimage.uniform_filter(
        np.asarray(image, dtype=np.float64),
        size=size,
        mode=_mode(boundary, _NDIMAGE_MODE),
        cval=0.0,
    )


def _gaussian_kernels(sigma_vox: float, truncate: float) -> tuple[np.ndarray, np.ndarray]:
    """Sampled Gaussian (sum 1) and its second derivative, the latter corrected to sum 0 and to
    Σ i² g'' = 2 so that constants give 0 and quadratics their exact second derivative even for
    σ of one or two voxels (plain sampling is several % off there)."""
    r = max(int(np.ceil(truncate * sigma_vox)), 1)
    i = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(i**2) / (2 * sigma_vox**2))
    g /= g.sum()
    g2 = g * (i**2 - sigma_vox**2) / sigma_vox**4
    g2 -= g * g2.sum()  # zero sum (g sums to 1)
    g2 *= 2.0 / (g2 * i**2).sum()
    return g, g2


def log_filter(
    image: np.ndarray,
    spacing_mm,
    sigma_mm: float,
    *,
    boundary: str = "mirror",
    truncate: float = 4.0,
    dims: int = 3,
) -> np.ndarray:
    """Laplacian of Gaussian with scale ``sigma_mm`` (IBSI-2 2.2), in intensity/mm².

    Separable: Σ over axes of the 2nd Gaussian derivative along that axis (Gaussian along the
    others), each divided by spacing² so that anisotropic voxels give the Laplacian in mm.
    Kernels are cut at ``truncate``·σ (IBSI: 4σ).
    """
    img = np.asarray(image, dtype=np.float64)
    spacing = np.asarray(spacing_mm, dtype=float)
    axes = _axes(dims)
    mode = _mode(boundary, _NDIMAGE_MODE)
    kernels = {a: _gaussian_kernels(sigma_mm / spacing[a], truncate) for a in axes}
    out = np.zeros_like(img)
    for a in axes:
        r = img
        for b in axes:
            k = kernels[b][1] if b == a else kernels[b][0]
            r = ndimage.convolve1d(r, k, axis=b, mode=mode, cval=0.0)
        out += r / spacing[a] ** 2
    return out


def _proper_rotations(dims: int):
    """Right-angle rotations as (axis permutation, flips): 24 in 3D, 4 in-plane in 2D."""
    axes = _axes(dims)
    for perm in itertools.permutations(range(len(axes))):
        for signs in itertools.product((1, -1), repeat=len(axes)):
            p = np.zeros((len(axes), len(axes)))
            p[np.arange(len(axes)), perm] = signs
            if np.isclose(np.linalg.det(p), 1.0):
                yield perm, signs


def _separable(img, kernels_xyz, axes, mode, dilation: int = 1):
    out = img
    for k, a in zip(kernels_xyz, axes, strict=True):
        if dilation > 1:  # à trous: insert zeros between taps
            up = np.zeros((len(k) - 1) * dilation + 1)
            up[::dilation] = k
            k = up
        out = ndimage.convolve1d(out, k, axis=a, mode=mode, cval=0.0)
    return out


def _pooled(img, kernels_xyz, dims, mode, rotation_invariant, pooling, dilation=1):
    axes = _axes(dims)
    if not rotation_invariant:
        return _separable(img, kernels_xyz, axes, mode, dilation)
    acc = None
    n = 0
    for perm, signs in _proper_rotations(dims):
        ks = [kernels_xyz[perm[i]][:: signs[i]] for i in range(len(axes))]
        r = _separable(img, ks, axes, mode, dilation)
        if acc is None:
            acc = r
        elif pooling == "max":
            acc = np.maximum(acc, r)
        elif pooling == "min":
            acc = np.minimum(acc, r)
        else:
            acc = acc + r
        n += 1
    return acc / n if pooling == "average" else acc


def _parse_names(name: str, table, size: int) -> list:
    parts = [name[i : i + size] for i in range(0, len(name), size)]
    try:
        return [table(p) for p in parts]
    except (KeyError, ValueError) as exc:
        raise NenscopeError(f"cannot parse filter name {name!r}") from exc


def laws_filter(
    image: np.ndarray,
    kernel: str,
    *,
    boundary: str = "mirror",
    rotation_invariant: bool = False,
    pooling: str = "max",
    energy_distance: int | None = None,
) -> np.ndarray:
    """Laws response (IBSI-2 2.3) for ``kernel`` such as ``"L5E5"`` (2D) or ``"E5L5S5"`` (3D).

    ``rotation_invariant`` pools the responses of the 4 (2D) or 24 (3D) right-angle kernel
    rotations with ``pooling`` (max, min, average); ``energy_distance`` δ then turns the result
    into an energy map: the mean of |response| over a (2δ+1) window.
    """
    size = 2
    if len(kernel) not in (4, 6):
        raise NenscopeError("Laws kernel names have 2 (2D) or 3 (3D) parts, e.g. L5E5 or E5L5S5")
    ks = _parse_names(kernel, LAWS_KERNELS.__getitem__, size)
    dims = len(ks)
    mode = _mode(boundary, _NDIMAGE_MODE)
    out = _pooled(np.asarray(image, dtype=np.float64), ks, dims, mode, rotation_invariant, pooling)
    if energy_distance:
        w = 2 * energy_distance + 1
        out = ndimage.uniform_filter(np.abs(out), size=(1 if dims == 2 else w, w, w), mode=mode)
    return out


def _fft_convolve(img: np.ndarray, kernel: np.ndarray, boundary: str) -> np.ndarray:
    half = [(s // 2, s - 1 - s // 2) for s in kernel.shape]
    mode = _mode(boundary, _PAD_MODE)
    padded = np.pad(img, half, mode=mode) if mode != "constant" else np.pad(img, half)
    return signal.fftconvolve(padded, kernel, mode="valid")


def gabor_kernel(
    spacing_xy_mm,
    sigma_mm: float,
    wavelength_mm: float,
    gamma: float,
    theta_rad: float,
    truncate: float = 4.0,
) -> np.ndarray:
    """Complex 2D Gabor kernel (rows = y, columns = x) in physical units (IBSI-2 2.4):
    exp(-(x̃² + γ²ỹ²)/(2σ²)) · exp(i 2π x̃ / λ), x̃ = x cosθ + y sinθ, ỹ = -x sinθ + y cosθ."""
    sx, sy = spacing_xy_mm
    reach = truncate * sigma_mm * max(1.0, 1.0 / gamma)
    hx, hy = int(np.ceil(reach / sx)), int(np.ceil(reach / sy))
    y, x = np.meshgrid(np.arange(-hy, hy + 1) * sy, np.arange(-hx, hx + 1) * sx, indexing="ij")
    xt = x * np.cos(theta_rad) + y * np.sin(theta_rad)
    yt = -x * np.sin(theta_rad) + y * np.cos(theta_rad)
    return np.exp(-(xt**2 + gamma**2 * yt**2) / (2 * sigma_mm**2)) * np.exp(
        1j * 2 * np.pi * xt / wavelength_mm
    )


def gabor_filter(
    image: np.ndarray,
    spacing_mm,
    *,
    sigma_mm: float,
    wavelength_mm: float,
    gamma: float = 1.0,
    theta_rad: float = 0.0,
    theta_step_rad: float | None = None,
    boundary: str = "mirror",
    orthogonal_planes: bool = False,
) -> np.ndarray:
    """Modulus of the Gabor response, applied slice by slice in the axial plane (IBSI-2 2.4).

    ``theta_step_rad`` averages the moduli over θ = 0, Δθ, … < 2π (rotation invariance);
    ``orthogonal_planes`` also filters the coronal and sagittal planes and averages the three.
    """
    img = np.asarray(image, dtype=np.float64)
    spacing = np.asarray(spacing_mm, dtype=float)
    thetas = (
        [theta_rad]
        if not theta_step_rad
        else list(np.arange(0.0, 2 * np.pi - 1e-9, theta_step_rad))
    )
    planes = [(0, 1, 2)] if not orthogonal_planes else [(0, 1, 2), (1, 0, 2), (2, 0, 1)]
    total = np.zeros_like(img)
    for order in planes:
        moved = np.transpose(img, order)
        sp = spacing[list(order)]
        acc = np.zeros_like(moved)
        for th in thetas:
            k = gabor_kernel((sp[2], sp[1]), sigma_mm, wavelength_mm, gamma, th)[None]
            acc += np.abs(_fft_convolve(moved, k, boundary))
        total += np.transpose(acc / len(thetas), np.argsort(order))
    return total / len(planes)


def wavelet_filter(
    image: np.ndarray,
    wavelet: str,
    subband: str,
    *,
    level: int = 1,
    boundary: str = "mirror",
    rotation_invariant: bool = False,
    pooling: str = "average",
) -> np.ndarray:
    """Undecimated separable wavelet sub-band (IBSI-2 2.5), e.g. ``wavelet="db2"``,
    ``subband="LHL"`` (x, y, z; 2 letters for 2D).

    Level n filters the level n-1 all-low-pass approximation with filters dilated by 2^(n-1)
    (à trous). Filter taps come from PyWavelets (decomposition filters). Rotation invariance
    averages the right-angle rotations.
    """
    try:
        w = pywt.Wavelet(wavelet)
    except ValueError as exc:
        raise NenscopeError(f"unknown wavelet {wavelet!r}") from exc
    bank = {
        "L": np.asarray(w.dec_lo, dtype=float)[::-1],
        "H": np.asarray(w.dec_hi, dtype=float)[::-1],
    }
    if len(subband) not in (2, 3) or any(c not in bank for c in subband):
        raise NenscopeError("subband must be 2 or 3 letters of L/H, e.g. LHL")
    dims = len(subband)
    mode = _mode(boundary, _NDIMAGE_MODE)
    img = np.asarray(image, dtype=np.float64)
    for lev in range(1, level):
        img = _pooled(
            img, [bank["L"]] * dims, dims, mode, False, "average", dilation=2 ** (lev - 1)
        )
    ks = [bank[c] for c in subband]
    return _pooled(img, ks, dims, mode, rotation_invariant, pooling, dilation=2 ** (level - 1))


_FILTERS = ("mean", "log", "laws", "gabor", "wavelet")


def filter_reach_mm(spec: dict, spacing_mm) -> float:
    """How far (mm) the response at a voxel depends on other voxels: the crop margin needed
    so that the ROI's response equals the response computed on the whole image."""
    spacing = np.asarray(spacing_mm, dtype=float)
    name = spec.get("name")
    if name == "mean":
        return float(spec.get("support_voxels", 3)) / 2 * spacing.max()
    if name == "log":
        return float(spec.get("truncate", 4.0)) * float(spec["sigma_mm"]) + spacing.max()
    if name == "laws":
        size = int(str(spec["kernel"])[1])
        return (size // 2 + int(spec.get("energy_distance") or 0)) * spacing.max()
    if name == "gabor":
        return (
            4.0 * float(spec["sigma_mm"]) * max(1.0, 1.0 / float(spec.get("gamma", 1.0)))
            + spacing.max()
        )
    if name == "wavelet":
        length = pywt.Wavelet(spec["wavelet"]).dec_len
        return float(length) * 2 ** int(spec.get("level", 1)) * spacing.max()
    raise NenscopeError(f"filter name must be one of {_FILTERS}, got {name!r}")


def apply_filter(image: np.ndarray, spacing_mm, spec: dict) -> np.ndarray:
    """Apply the filter a settings ``filter`` mapping describes, e.g.
    ``{"name": "log", "sigma_mm": 1.5, "boundary": "mirror"}``; the other keys are the keyword
    arguments of :func:`mean_filter`, :func:`log_filter`, :func:`laws_filter`,
    :func:`gabor_filter` or :func:`wavelet_filter`."""
    args = {k: v for k, v in spec.items() if k != "name"}
    name = spec.get("name")
    try:
        if name == "mean":
            return mean_filter(image, int(args.pop("support_voxels")), **args)
        if name == "log":
            return log_filter(image, spacing_mm, float(args.pop("sigma_mm")), **args)
        if name == "laws":
            return laws_filter(image, str(args.pop("kernel")), **args)
        if name == "gabor":
            return gabor_filter(image, spacing_mm, **args)
        if name == "wavelet":
            return wavelet_filter(image, str(args.pop("wavelet")), str(args.pop("subband")), **args)
    except (KeyError, TypeError) as exc:
        raise NenscopeError(f"bad filter settings {spec}: {exc}") from exc
    raise NenscopeError(f"filter name must be one of {_FILTERS}, got {name!r}")
