"""Radiomics settings: one small frozen dataclass, loadable from YAML, with IBSI presets.

The presets ``ibsi-a`` … ``ibsi-e`` are the five image-processing configurations of the IBSI-1
reference manual (Zwanenburg et al., arXiv:1612.07003, chapter 5, the configuration tables of
the lung cancer CT phantom) and live as YAML files in ``nenscope/radiomics/presets`` (data, not code).
``ibsi-phantom`` is the configuration the manual prescribes for the digital phantom (no
interpolation, no re-segmentation, intensities used directly as grey levels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nenscope.errors import NenscopeError

TEXTURE_SPACES = ("2D", "2.5D", "3D")
FAMILIES = (
    "morph",
    "loc",
    "stat",
    "ih",
    "ivh",
    "cm",
    "rlm",
    "szm",
    "dzm",
    "ngt",
    "ngl",
)
_DISCRETISATION = ("none", "fbs", "fbn")


@dataclass(frozen=True)
class RadiomicsSettings:
    """Image processing and feature settings (IBSI-1 chapter 2 and 3 vocabulary).

    Attributes
    ----------
    name: label written into reports.
    new_spacing_mm: target voxel spacing (axis 0 = slice, 1 = row, 2 = column), ``None`` = no
        interpolation. A ``None`` entry keeps that axis (2D in-plane interpolation, config B).
    interpolation_order: image spline order (0 nearest, 1 (tri)linear, 3 (tri)cubic spline).
    intensity_rounding: round interpolated intensities to this step (1.0 = nearest integer, CT).
    mask_partial_volume: ROI partial-volume threshold after (bi/tri)linear mask interpolation
        (a new voxel is in the ROI when its value, rounded to 6 decimals, is ≥ the threshold).
    resegment_range: ``[low, high]`` intensity range kept in the intensity mask; either end may
        be ``None`` (open).
    resegment_outlier_sigma: exclude intensities outside mean ± k·SD (IBSI outlier filtering).
    discretisation: ``"fbn"`` fixed bin number, ``"fbs"`` fixed bin size, ``"none"`` (the
        intensities already are positive integer grey levels, digital phantom).
    bin_number, bin_width: parameters of fbn / fbs (bin width in intensity units).
    bin_lower_bound: lower bound of the first fbs bin; ``None`` = lower re-segmentation bound,
        else the ROI minimum.
    ivh_discretisation, ivh_bin_number, ivh_bin_width: the same for the intensity-volume
        histogram.
    texture_spaces: which of ``2D``, ``2.5D``, ``3D`` texture variants to compute.
    families: which feature families to compute (tag prefixes, see ``FAMILIES``).
    glcm_distance, ngtdm_distance, ngldm_distance: Chebyshev neighbourhood distances (voxels).
    ngldm_alpha: NGLDM coarseness parameter (grey-level difference counted as dependent).
    local_intensity_volume_cm3: volume of the local-intensity peak sphere (1 cm³ in IBSI).
    filter: IBSI-2 convolutional filter applied after interpolation and re-segmentation, e.g.
        ``{"name": "log", "sigma_mm": 1.5}``; features are then computed on the response map
        inside the ROI (IBSI-2 phase 2 computes ``stat_*`` features; morphology, which does not
        depend on intensities, is left out). See :func:`nenscope.radiomics.filters.apply_filter`.
    morph_extended: compute the convex-hull / OMBB / MVEE densities and Moran's I / Geary's C
        (morphological features pyradiomics lacks; off = the set shared with pyradiomics).
    """

    name: str = "custom"
    new_spacing_mm: tuple[float | None, float | None, float | None] | None = None
    interpolation_order: int = 1
    intensity_rounding: float | None = None
    mask_partial_volume: float = 0.5
    resegment_range: tuple[float | None, float | None] | None = None
    resegment_outlier_sigma: float | None = None
    discretisation: str = "fbn"
    bin_number: int = 32
    bin_width: float = 0.25
    bin_lower_bound: float | None = None
    ivh_discretisation: str = "fbn"
    ivh_bin_number: int = 1000
    ivh_bin_width: float = 0.1
    texture_spaces: tuple[str, ...] = ("3D",)
    families: tuple[str, ...] = FAMILIES
    glcm_distance: int = 1
    ngtdm_distance: int = 1
    ngldm_distance: int = 1
    ngldm_alpha: int = 0
    local_intensity_volume_cm3: float = 1.0
    morph_extended: bool = True
    filter: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.discretisation not in _DISCRETISATION:
            raise NenscopeError(
                f"discretisation must be one of {_DISCRETISATION}, got {self.discretisation!r}"
            )
        if self.ivh_discretisation not in _DISCRETISATION:
            raise NenscopeError(
                f"ivh_discretisation must be one of {_DISCRETISATION}, got {self.ivh_discretisation!r}"
            )
        bad = [s for s in self.texture_spaces if s not in TEXTURE_SPACES]
        if bad:
            raise NenscopeError(f"texture_spaces must be among {TEXTURE_SPACES}, got {bad}")
        bad = [f for f in self.families if f not in FAMILIES]
        if bad:
            raise NenscopeError(f"families must be among {FAMILIES}, got {bad}")
        if (
            self.bin_number < 1
            or self.ivh_bin_number < 1
            or self.bin_width <= 0
            or self.ivh_bin_width <= 0
        ):
            raise NenscopeError("bin numbers must be >= 1 and bin widths > 0")
        if self.interpolation_order not in (0, 1, 3):
            raise NenscopeError("interpolation_order must be 0, 1 or 3")

    def replace(self, **changes: Any) -> RadiomicsSettings:
        """Copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


_TUPLE_FIELDS = {"new_spacing_mm", "resegment_range", "texture_spaces", "families"}


def settings_from_dict(data: dict[str, Any]) -> RadiomicsSettings:
    """Build settings from a mapping (as read from YAML); unknown keys are an error."""
    known = {f.name for f in dataclasses.fields(RadiomicsSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise NenscopeError(f"unknown radiomics setting(s): {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        if key in _TUPLE_FIELDS and value is not None:
            value = tuple(value)
        kwargs[key] = value
    try:
        return RadiomicsSettings(**kwargs)
    except TypeError as exc:  # wrong value types from a hand-written file
        raise NenscopeError(f"bad radiomics settings: {exc}") from exc


def load_settings(path: str | Path) -> RadiomicsSettings:
    """Read settings from a YAML file (keys = ``RadiomicsSettings`` field names)."""
    path = Path(path)
    if not path.is_file():
        raise NenscopeError(f"settings file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise NenscopeError(f"settings file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise NenscopeError(f"settings file {path} must hold a mapping")
    data.pop("citation", None)
    data.setdefault("name", path.stem)
    return settings_from_dict(data)


def preset_names() -> list[str]:
    """Names of the bundled presets."""
    folder = resources.files("nenscope.radiomics") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _preset_data(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise NenscopeError(f"unknown radiomics preset {name!r}; choose one of {', '.join(names)}")
    text = (resources.files("nenscope.radiomics") / "presets" / f"{name}.yaml").read_text()
    return yaml.safe_load(text)


def preset(name: str) -> RadiomicsSettings:
    """Bundled preset by name (``ibsi-a`` … ``ibsi-e``, ``ibsi-phantom``, ``pet-default``)."""
    data = _preset_data(name)
    data.pop("citation", None)
    data.setdefault("name", name)
    return settings_from_dict(data)


def preset_citation(name: str) -> str:
    """The literature source a bundled preset transcribes (its YAML ``citation``)."""
    return str(_preset_data(name).get("citation", ""))
