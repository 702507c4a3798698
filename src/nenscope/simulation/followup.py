"""A follow-up study of the same virtual patient, with the truth of every change.

:func:`simulate_followup` scans the virtual patient twice. The prior study is exactly what
:func:`~nenscope.simulation.study.simulate_study` makes for the configuration; the follow-up
(current) study reuses its anatomy and lesions and changes them by chosen rates:

- each prior lesion grows, shrinks, stays or disappears (``p_grow``, ``p_shrink``,
  ``p_disappear``; the rest is stable), its volume multiplied by a factor drawn from the
  matching range; ``n_split`` lesions of at least 20 mm split into two halves side by side;
- ``n_new`` new lesions appear at ``new_sites`` (with an SSTR expression from
  ``new_expression``, so that they are visible on SSTR imaging);
- the patient lies differently: a rigid motion (``rotation_deg`` about the x, y, z axes
  through the grid centre, then ``shift_mm``) and a breathing state in which the liver and
  spleen sit ``breathing_mm`` further caudal (they move as a whole; the displacement fades
  to zero within ~30 mm outside them);
- optionally the lesions have a CT correlate (``lesion_ct_contrast_hu`` added inside each
  sphere on both CTs), so that CT-based criteria have a truth.

The follow-up is a new session: own study/series/frame-of-reference UIDs, injection
``interval_days`` later, the same injected activity and uptake time. PET only (one time
point). Lesions that survive keep their id; split halves and new lesions get ids after the
largest prior id. The pair's truth (``FollowupPair.truth``) lists every prior and current
lesion with its fate, true volumes and centres in both studies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

import highdicom as hd
import numpy as np
from pydicom.uid import generate_uid
from scipy import ndimage
from scipy.spatial.transform import Rotation

from nenscope.errors import NenscopeError
from nenscope.simulation.activity import suv_map
from nenscope.simulation.lesions import Lesion, lesion_occupancy, place_lesions
from nenscope.simulation.pet import simulate_pet
from nenscope.simulation.phantom import (
    Phantom,
    build_patient_phantom,
    ct_from_labels,
    organ_table,
)
from nenscope.simulation.physics import hu_to_mu_per_mm
from nenscope.simulation.study import (
    EmissionFrame,
    SimulatedStudy,
    SimulationConfig,
    make_scanners,
    noisy_ct,
    simulate_study,
)
from nenscope.simulation.truth import build_manifest

__all__ = ["FollowupConfig", "FollowupPair", "simulate_followup"]

_BREATHING_ORGANS = ("liver", "spleen")
_BREATHING_FADE_MM = 15.0  # Gaussian sigma of the breathing weight outside the organs
_SPLIT_MIN_DIAMETER_MM = 20.0


@dataclass(frozen=True)
class FollowupConfig:
    """How the follow-up differs from the prior study (units in the names).

    Attributes:
        seed: random seed of the changes, the new lesions and the follow-up's noise.
        p_disappear, p_grow, p_shrink: probability of each fate per prior lesion (the rest
            is stable).
        grow_volume_factor, shrink_volume_factor, stable_volume_factor: ranges (min, max)
            of the volume ratio current / prior for each fate.
        n_split: number of prior lesions (>= 20 mm) that split into two (fewer when fewer
            such lesions survive; the truth lists the splits made).
        n_new: number of new lesions.
        new_sites: sites drawn (uniformly) for the new lesions.
        new_expression: SSTR expression levels drawn for the new lesions.
        shift_mm: patient shift (x, y, z; LPS mm) at the follow-up.
        rotation_deg: patient rotation about the x, y and z axes (degrees) at the follow-up.
        breathing_mm: caudal displacement of the liver and spleen at the follow-up (mm).
        lesion_ct_contrast_hu: HU added inside the lesions on both CTs (``None``: no CT
            correlate, as in :func:`simulate_study`).
        interval_days: days between the two injections.
    """

    seed: int = 0
    p_disappear: float = 0.15
    p_grow: float = 0.3
    p_shrink: float = 0.3
    grow_volume_factor: tuple[float, float] = (1.8, 3.0)
    shrink_volume_factor: tuple[float, float] = (0.2, 0.5)
    stable_volume_factor: tuple[float, float] = (0.9, 1.1)
    n_split: int = 0
    n_new: int = 1
    new_sites: tuple[str, ...] = ("liver", "lymph_node", "bone")
    new_expression: tuple[str, ...] = ("very_high", "high")
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    breathing_mm: float = 0.0
    lesion_ct_contrast_hu: float | None = None
    interval_days: float = 91.0


@dataclass
class FollowupPair:
    """The prior and the current (follow-up) study of one virtual patient and their truth."""

    prior: SimulatedStudy
    current: SimulatedStudy
    truth: dict


class _Motion:
    """Follow-up position: breathing displacement (caudal, liver and spleen), then rigid."""

    def __init__(self, phantom: Phantom, config: FollowupConfig):
        g = phantom.grid
        organs = phantom.mask(*_BREATHING_ORGANS).astype(np.float32)
        # 1 inside the organs (they move as a whole), fading to 0 ~2 sigma outside them
        self.weight = ndimage.gaussian_filter(organs, _BREATHING_FADE_MM / g.voxel_mm)
        np.clip(2.0 * self.weight, 0.0, 1.0, out=self.weight)
        self.inv_affine = np.linalg.inv(g.affine)
        self.affine = g.affine
        nz = g.shape[0]
        self.centre = np.array([0.0, 0.0, g.z0_mm - (nz - 1) / 2.0 * g.voxel_mm])
        self.rot = Rotation.from_euler("xyz", config.rotation_deg, degrees=True).as_matrix()
        self.shift = np.asarray(config.shift_mm, dtype=float)
        self.breathing_mm = float(config.breathing_mm)

    def _breathing(self, points: np.ndarray) -> np.ndarray:
        """Displacement (N, 3) of LPS points (N, 3) in the prior position."""
        idx = (self.inv_affine[:3, :3] @ points.T) + self.inv_affine[:3, 3:4]
        w = ndimage.map_coordinates(self.weight, idx, order=1, mode="nearest")
        out = np.zeros_like(points)
        out[:, 2] = -self.breathing_mm * w
        return out

    def forward(self, points) -> np.ndarray:
        """Prior LPS points (N, 3) -> where they are at the follow-up."""
        p = np.atleast_2d(np.asarray(points, dtype=float))
        p = p + self._breathing(p)
        return (p - self.centre) @ self.rot.T + self.centre + self.shift

    def inverse(self, points: np.ndarray) -> np.ndarray:
        """Follow-up LPS points (N, 3) -> prior position (fixed-point inverse of breathing)."""
        y = (points - self.centre - self.shift) @ self.rot + self.centre
        p = y.copy()
        for _ in range(3):
            p = y - self._breathing(p)
        return p

    def warp_labels(self, labels: np.ndarray, chunk: int = 24) -> np.ndarray:
        """Label map moved to the follow-up position (nearest neighbour, slab by slab)."""
        nz, ny, nx = labels.shape
        out = np.zeros_like(labels)
        jj, ii = np.meshgrid(np.arange(nx), np.arange(ny))
        for k0 in range(0, nz, chunk):
            ks = np.arange(k0, min(k0 + chunk, nz))
            kk = np.repeat(ks, ny * nx)
            ijk = np.stack([kk, np.tile(ii.ravel(), ks.size), np.tile(jj.ravel(), ks.size)])
            lps = (self.affine[:3, :3] @ ijk + self.affine[:3, 3:4]).T
            src = self.inverse(lps)
            idx = self.inv_affine[:3, :3] @ src.T + self.inv_affine[:3, 3:4]
            vals = ndimage.map_coordinates(labels, idx, order=0, mode="constant", cval=0)
            out[ks[0] : ks[-1] + 1] = vals.reshape(ks.size, ny, nx)
        return out


def _prior_phantom(config: SimulationConfig, voxel_mm: float) -> Phantom:
    """The anatomy :func:`simulate_study` built for ``config`` (PET, patient phantom)."""
    return build_patient_phantom(
        voxel_mm=voxel_mm,
        n_pixels=config.n_pixels,
        sex=config.sex,
        height_cm=config.height_cm,
        weight_kg=config.weight_kg,
        z_range_mm=(0.0, -1000.0),
    )


def _moved_phantom(prior: Phantom, motion: _Motion) -> Phantom:
    labels = motion.warp_labels(prior.labels)
    label_hu = {int(o["label"]): float(o["hu"]) for o in organ_table()}
    stations = {
        k: tuple(float(c) for c in motion.forward(v)[0])
        for k, v in prior.lymph_node_stations_mm.items()
    }
    return replace(
        prior, labels=labels, hu=ct_from_labels(labels, label_hu), lymph_node_stations_mm=stations
    )


def _draw_fates(lesions: list[Lesion], fu: FollowupConfig, rng) -> list[str]:
    edges = np.cumsum([fu.p_disappear, fu.p_grow, fu.p_shrink])
    fates = [
        ("disappear", "grow", "shrink", "stable")[int(np.searchsorted(edges, u, "right"))]
        for u in rng.uniform(size=len(lesions))
    ]
    big = [
        i
        for i, les in enumerate(lesions)
        if fates[i] != "disappear" and les.diameter_mm >= _SPLIT_MIN_DIAMETER_MM
    ]
    n_split = min(fu.n_split, len(big))
    for i in rng.choice(big, size=n_split, replace=False) if n_split else []:
        fates[int(i)] = "split"
    return fates


def _changed_lesions(
    prior: list[Lesion], fates: list[str], motion: _Motion, fu: FollowupConfig, rng
) -> tuple[list[Lesion], dict[int, list[int]]]:
    """Surviving (moved, resized) and split lesions; map prior id -> current ids."""
    ranges = {
        "grow": fu.grow_volume_factor,
        "shrink": fu.shrink_volume_factor,
        "stable": fu.stable_volume_factor,
    }
    current: list[Lesion] = []
    mapping: dict[int, list[int]] = {}
    next_id = max((les.id for les in prior), default=0) + 1
    for les, fate in zip(prior, fates, strict=True):
        centre = motion.forward(les.center_mm)[0]
        if fate == "disappear":
            mapping[les.id] = []
            continue
        if fate == "split":
            d_half = les.diameter_mm * 0.55
            axis = np.array([1.0, 0.0, 0.0]) if rng.uniform() < 0.5 else np.array([0, 1.0, 0])
            offset = axis * (les.diameter_mm * 0.5)
            mapping[les.id] = [next_id, next_id + 1]
            for k, sign in enumerate((-1.0, 1.0)):
                current.append(_resized(les, next_id + k, centre + sign * offset, d_half))
            next_id += 2
            continue
        lo, hi = ranges[fate]
        factor = float(rng.uniform(lo, hi))
        current.append(_resized(les, les.id, centre, les.diameter_mm * factor ** (1.0 / 3.0)))
        current[-1].extra["fate"] = fate
        mapping[les.id] = [les.id]
    return current, mapping


def _resized(les: Lesion, lesion_id: int, centre, diameter_mm: float) -> Lesion:
    return replace(
        les,
        id=lesion_id,
        center_mm=tuple(float(c) for c in centre),
        diameter_mm=float(round(diameter_mm, 2)),
        true_suv_mean=None,
        extra={"fate": "split"} if lesion_id != les.id else {},
    )


def _new_lesions(
    phantom: Phantom, existing: list[Lesion], fu: FollowupConfig, tumour_type: str, rng
) -> list[Lesion]:
    """``fu.n_new`` lesions away (>= 10 mm gap) from ``existing``; ids after theirs."""
    out: list[Lesion] = []
    next_id = max((les.id for les in existing), default=0) + 1
    for _attempt in range(20 * max(fu.n_new, 1)):
        if len(out) == fu.n_new:
            break
        site = fu.new_sites[int(rng.integers(len(fu.new_sites)))]
        les = place_lesions(phantom, 1, tumour_type, rng, [site])[0]
        taken = existing + out
        if any(
            np.linalg.norm(np.subtract(les.center_mm, t.center_mm))
            < (les.diameter_mm + t.diameter_mm) / 2.0 + 10.0
            for t in taken
        ):
            continue
        level = fu.new_expression[int(rng.integers(len(fu.new_expression)))]
        expression = dict(les.expression, sstr=level)
        krenning = {"very_high": 4, "high": 3, "moderate": 2, "low": 1, "none": 0}[level]
        out.append(
            replace(
                les,
                id=next_id,
                expression=expression,
                krenning_true=krenning,
                primary=False,
                extra={"fate": "new"},
            )
        )
        next_id += 1
    if len(out) < fu.n_new:
        raise NenscopeError(f"could not place {fu.n_new} new lesion(s) without overlap")
    return out


def _paint_ct(ct: np.ndarray, grid, lesions: list[Lesion], contrast_hu: float | None) -> None:
    if contrast_hu is None:
        return
    for les in lesions:
        sl, frac = lesion_occupancy(grid, les.center_mm, les.diameter_mm)
        ct[sl] += np.float32(contrast_hu) * frac


def _scan(
    prior: SimulatedStudy,
    phantom: Phantom,
    lesions: list[Lesion],
    fu: FollowupConfig,
    rng,
) -> SimulatedStudy:
    """PET/CT of the moved patient, as simulate_study scans (same agent, activity, timing)."""
    config = prior.config
    voxel = phantom.grid.voxel_mm
    ct_hu = noisy_ct(phantom, [], rng)  # as simulate_study; lesions painted by their contrast
    _paint_ct(ct_hu, phantom.grid, lesions, fu.lesion_ct_contrast_hu)
    t_h = prior.frames[0].time_h
    decay = math.exp(-math.log(2) * t_h * 3600.0 / prior.half_life_s)
    suv = suv_map(phantom, prior.agent, lesions)
    truth = (
        suv * np.float32(prior.injected_mbq * 1e6 * decay / (prior.weight_kg * 1000.0))
    ).astype(np.float32)
    scanner, _ = make_scanners(config, "pet", prior.radionuclide)
    mu = hu_to_mu_per_mm(phantom.hu, 511.0)
    image, stats = simulate_pet(
        truth, mu, voxel, prior.radionuclide, scanner, config.minutes_per_bed, rng
    )
    key = repr(sorted(prior.uids.items())) + f"followup {fu!r}"
    uids = {name: generate_uid(entropy_srcs=[key, name]) for name in prior.uids}
    for_uid = uids["frame_of_reference"]
    injection = prior.injection_datetime + timedelta(days=fu.interval_days)

    def vol(array: np.ndarray) -> hd.Volume:
        return hd.Volume(array, phantom.grid.affine, "PATIENT", frame_of_reference_uid=for_uid)

    lesion_map = np.zeros(phantom.grid.shape, dtype=np.uint16)
    for les in lesions:
        sl, frac = lesion_occupancy(phantom.grid, les.center_mm, les.diameter_mm)
        lesion_map[sl][frac >= 0.5] = les.id
    frame = EmissionFrame(
        volume=vol(image),
        time_h=t_h,
        acquisition_datetime=injection + timedelta(hours=t_h),
        truth_bqml=truth,
        stats=stats,
    )
    sim = replace(
        prior,
        injection_datetime=injection,
        frames=[frame],
        ct=vol(ct_hu),
        organs=vol(phantom.labels),
        lesion_labels=vol(lesion_map),
        lesions=lesions,
        truth={},
        uids=uids,
    )
    sim.truth = build_manifest(sim, phantom, pet_scanner=scanner)
    return sim


def _lesion_truth(les: Lesion) -> dict:
    return {
        "id": les.id,
        "site": les.site,
        "center_mm": [round(float(c), 2) for c in les.center_mm],
        "diameter_mm": les.diameter_mm,
        "volume_ml": round(les.volume_ml, 4),
        "krenning_true": les.krenning_true,
        "sstr_expression": les.sstr_expression,
    }


def _pair_truth(
    prior: list[Lesion],
    current: list[Lesion],
    fates: list[str],
    mapping: dict[int, list[int]],
    fu: FollowupConfig,
) -> dict:
    by_id = {les.id: les for les in current}
    entries = []
    for les, fate in zip(prior, fates, strict=True):
        ids = mapping[les.id]
        status = {"disappear": "disappeared", "split": "split"}.get(fate, "paired")
        entries.append(
            {
                "status": status,
                "fate": fate,
                "prior": _lesion_truth(les),
                "current": [_lesion_truth(by_id[i]) for i in ids],
            }
        )
    for les in current:
        if les.extra.get("fate") == "new":
            entries.append(
                {"status": "new", "fate": "new", "prior": None, "current": [_lesion_truth(les)]}
            )
    return {
        "lesions": entries,
        "motion": {
            "shift_mm": list(fu.shift_mm),
            "rotation_deg": list(fu.rotation_deg),
            "breathing_mm": fu.breathing_mm,
            "rotation_centre": "grid centre",
        },
        "followup_config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(fu).items()
        },
    }


def simulate_followup(config: SimulationConfig, followup: FollowupConfig) -> FollowupPair:
    """Simulate a prior PET/CT (``config``) and a follow-up of the same patient.

    Only PET agents and the patient phantom are supported. The prior study is
    ``simulate_study(config)`` (bit for bit); see the module docstring for the follow-up.

    Raises:
        NenscopeError: a SPECT/NEMA configuration, impossible fate probabilities, or no room
            for the new lesions.
    """
    if config.phantom != "patient" or config.scanner == "spect":
        raise NenscopeError("the follow-up simulator needs the patient phantom and PET")
    fu = followup
    if min(fu.p_disappear, fu.p_grow, fu.p_shrink) < 0 or (
        fu.p_disappear + fu.p_grow + fu.p_shrink > 1.0 + 1e-9
    ):
        raise NenscopeError("fate probabilities must be >= 0 and sum to at most 1")
    prior_sim = simulate_study(config)
    if prior_sim.modality != "PT" or len(prior_sim.frames) != 1:
        raise NenscopeError("the follow-up simulator needs a PET agent with one time point")
    rng = np.random.default_rng((int(config.seed), int(followup.seed)))
    voxel = float(np.linalg.norm(prior_sim.ct.affine[:3, 0]))
    phantom = _prior_phantom(config, voxel)
    motion = _Motion(phantom, followup)
    moved = _moved_phantom(phantom, motion)
    fates = _draw_fates(prior_sim.lesions, followup, rng)
    current, mapping = _changed_lesions(prior_sim.lesions, fates, motion, followup, rng)
    current += _new_lesions(moved, current, followup, config.tumour_type, rng)
    if followup.lesion_ct_contrast_hu is not None:
        ct = np.array(prior_sim.ct.array, dtype=np.float32)
        _paint_ct(ct, phantom.grid, prior_sim.lesions, followup.lesion_ct_contrast_hu)
        prior_sim.ct = prior_sim.ct.with_array(ct)
    current_sim = _scan(prior_sim, moved, current, followup, rng)
    truth = _pair_truth(prior_sim.lesions, current, fates, mapping, followup)
    return FollowupPair(prior=prior_sim, current=current_sim, truth=truth)
