"""Simulate a whole study: virtual patient (or NEMA IEC phantom) + tracer + scanner → images
with their truth. ``simulate_study(config)`` is the entry point; ``write_study`` (in
:mod:`nenscope.simulation.output`) writes DICOM, NIfTI and the manifest."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import highdicom as hd
import numpy as np
from pydicom.uid import generate_uid
from scipy import ndimage

from nenscope.errors import NenscopeError
from nenscope.knowledge.radionuclides import canonical_nuclide, half_life_s
from nenscope.knowledge.tracers import get_agent
from nenscope.simulation.activity import (
    agent_uptake,
    gland_suvs,
    lu177_concentration_bqml,
    suv_map,
)
from nenscope.simulation.lesions import Lesion, lesion_occupancy, paint_lesion_hu, place_lesions
from nenscope.simulation.nema import build_nema_phantom
from nenscope.simulation.pet import get_pet_scanner, simulate_pet
from nenscope.simulation.phantom import Phantom, build_patient_phantom
from nenscope.simulation.physics import hu_to_mu_per_mm
from nenscope.simulation.spect import get_spect_scanner, simulate_spect
from nenscope.simulation.truth import build_manifest, image_krenning
from nenscope.simulation.variability import PatientVariation, draw_variation

__all__ = ["EmissionFrame", "SimulatedStudy", "SimulationConfig", "simulate_study"]

#: Injection time of every simulated study (date fixed so that the same seed gives the same study).
INJECTION_DATETIME = datetime(2026, 1, 15, 9, 0, 0)
_PET_NUCLIDES = ("F-18", "Ga-68", "Cu-64", "Zr-89")


@dataclass
class SimulationConfig:
    """What to simulate. Units in the names; ``None`` means the default for the agent.

    Attributes:
        tracer: agent name from the catalogue (e.g. "68Ga-DOTATATE", "177Lu-DOTATATE").
        phantom: "patient" (virtual NET patient) or "nema-iec".
        scanner: "pet" or "spect" (default: PET for positron emitters, SPECT otherwise).
        pet_model: PET scanner model in data/scanners.toml ("earl", "digital").
        seed: random seed; the same seed (and config) gives the same study.
        n_lesions: number of lesions (patient phantom).
        tumour_type: G1, G2, G3 or insulinoma.
        sex, weight_kg, height_cm: the patient (default ICRP 89 reference male).
        voxel_mm: voxel size (default 4.0 mm PET, 4.8 mm SPECT).
        minutes_per_bed: PET acquisition time per bed position (min).
        injected_mbq: injected activity (MBq; default the catalogue's rule).
        timepoints_h: scan times after injection (h); default the agent's uptake time
            (177Lu-DOTATATE: 4, 24, 96, 168 h).
        iterations, subsets, psf, postfilter_fwhm_mm: reconstruction overrides.
        nema_background_kbqml, nema_sphere_ratio: NEMA filling (kBq/mL at scan start; ratio).
        lesion_sites: force lesion sites (one per lesion).
        spect_axial_fov_mm: axial extent of the SPECT field (centred on the upper abdomen).
        patient_variability: draw this seed's patient from the between-patient variation
            (kidney SSTR uptake, 177Lu half-lives; :mod:`nenscope.simulation.variability`),
            the same for every agent of the seed, with the lesions placed on the reference
            PET grid so that a 68Ga PET and a 177Lu SPECT of the seed show the same lesions;
            off: the reference patient.
    """

    tracer: str = "68Ga-DOTATATE"
    phantom: str = "patient"
    scanner: str | None = None
    pet_model: str = "earl"
    seed: int = 0
    n_lesions: int = 5
    tumour_type: str = "G2"
    sex: str = "M"
    weight_kg: float | None = None
    height_cm: float | None = None
    voxel_mm: float | None = None
    minutes_per_bed: float = 2.5
    injected_mbq: float | None = None
    timepoints_h: tuple[float, ...] | None = None
    iterations: int | None = None
    subsets: int | None = None
    psf: bool | None = None
    postfilter_fwhm_mm: float | None = None
    nema_background_kbqml: float = 2.0
    nema_sphere_ratio: float = 10.0
    lesion_sites: list[str] | None = None
    spect_axial_fov_mm: float = 400.0
    n_pixels: int | None = None
    patient_variability: bool = False


@dataclass
class EmissionFrame:
    """One reconstructed emission series (a time point)."""

    volume: hd.Volume  # Bq/mL, decay-corrected to the acquisition start
    time_h: float  # hours after injection at acquisition start
    acquisition_datetime: datetime
    truth_bqml: np.ndarray  # noise-free true concentration (Bq/mL) on the same grid
    stats: dict = field(default_factory=dict)


@dataclass
class SimulatedStudy:
    """A simulated study and its truth.

    ``organs`` and ``lesion_labels`` share the emission grid; ``truth`` is the manifest
    (JSON-ready) with the patient, tracer, scanner, organ SUVs/activities and lesions.
    """

    config: SimulationConfig
    modality: str  # "PT" or "NM"
    agent: str
    radionuclide: str
    half_life_s: float
    injected_mbq: float
    injection_datetime: datetime
    weight_kg: float
    height_cm: float
    sex: str
    frames: list[EmissionFrame]
    ct: hd.Volume
    organs: hd.Volume
    organ_names: dict[int, str]
    lesion_labels: hd.Volume
    lesions: list[Lesion]
    truth: dict
    uids: dict[str, str]
    variation: PatientVariation | None = None
    glands: dict[str, float] = field(default_factory=dict)
    # SSTR PET: the blood pool on the noise-free image (truth.image_krenning), SUV
    image_blood_pool_suv: float = float("nan")

    @property
    def emission(self) -> hd.Volume:
        """The first (or only) emission volume, Bq/mL."""
        return self.frames[0].volume

    def suv_factor(self, frame: int = 0) -> float:
        """Bq/mL → SUVbw: W (g) / injected activity decayed to the frame's acquisition start (Bq)."""
        t_s = self.frames[frame].time_h * 3600.0
        decayed = self.injected_mbq * 1e6 * math.exp(-math.log(2) * t_s / self.half_life_s)
        return self.weight_kg * 1000.0 / decayed


def _uids(config: SimulationConfig) -> dict[str, str]:
    items = asdict(config)
    if not items["patient_variability"]:  # the reference patient keeps its earlier UIDs
        del items["patient_variability"]
    key = repr(sorted(items.items()))
    return {
        name: generate_uid(entropy_srcs=[key, name])
        for name in ("study", "frame_of_reference", "ct_series", "pet_series")
    }


def _volume(array: np.ndarray, phantom: Phantom, for_uid: str) -> hd.Volume:
    return hd.Volume(array, phantom.grid.affine, "PATIENT", frame_of_reference_uid=for_uid)


def _placement_phantom(phantom: Phantom, config: SimulationConfig) -> Phantom:
    """Where the lesions are drawn. With ``patient_variability`` (one virtual person across
    agents and scanners) on the reference PET grid (4 mm, vertex to mid-thigh), so that a seed
    gives the same lesions on a 68Ga PET and a cropped 177Lu SPECT; otherwise on the scan's own
    phantom (as before, so earlier seeds keep their lesions)."""
    if not config.patient_variability:
        return phantom
    ref = build_patient_phantom(
        voxel_mm=4.0, sex=phantom.sex, height_cm=phantom.height_cm, weight_kg=phantom.weight_kg
    )
    return phantom if ref.grid == phantom.grid else ref


def _in_field(phantom: Phantom, lesion: Lesion) -> bool:
    """Whether any of ``lesion`` lies inside the scan's grid."""
    idx = phantom.grid.index_of(lesion.center_mm)
    r = lesion.diameter_mm / 2.0 / phantom.grid.voxel_mm
    return bool(np.all(idx + r >= -0.5) and np.all(idx - r <= np.asarray(phantom.grid.shape) - 0.5))


def _default_timepoints(agent_name: str, agent) -> tuple[float, ...]:
    if canonical_nuclide(agent.radionuclide) == "Lu-177":
        return tuple(agent.imaging_times_h) or (4.0, 24.0, 96.0, 168.0)
    return (agent_uptake(agent_name)["uptake_min"] / 60.0,)


def _modality_kind(config: SimulationConfig, name: str, nuclide: str) -> str:
    """ "pet" or "spect" for ``config`` (its scanner, else by the nuclide); refuses a scanner
    the nuclide cannot be imaged on and an unknown phantom."""
    modality_kind = config.scanner or ("pet" if nuclide in _PET_NUCLIDES else "spect")
    if modality_kind not in ("pet", "spect"):
        raise NenscopeError(f"scanner must be pet or spect, not {modality_kind!r}")
    if modality_kind == "pet" and nuclide not in _PET_NUCLIDES:
        raise NenscopeError(f"{name} ({nuclide}) emits no positrons: use --scanner spect")
    if modality_kind == "spect" and nuclide in _PET_NUCLIDES:
        raise NenscopeError(f"{name} ({nuclide}) is a PET agent: use --scanner pet")
    if config.phantom not in ("patient", "nema-iec"):
        raise NenscopeError(f"phantom must be patient or nema-iec, not {config.phantom!r}")
    return modality_kind


def _injected_mbq(config: SimulationConfig, agent, weight_kg: float, nema: bool) -> float | None:
    """The configured activity, else the catalogue's rule for the patient (MBq); None for a
    NEMA phantom without one (its filling gives it)."""
    if config.injected_mbq is not None:
        return float(config.injected_mbq)
    if nema:
        return None
    injected_mbq = agent.activity_mbq(weight_kg)
    if injected_mbq is None:
        raise NenscopeError(
            f"the catalogue has no activity rule for {agent.name}: give --injected-mbq"
        )
    return injected_mbq


def noisy_ct(phantom, lesions: list[Lesion], rng: np.random.Generator) -> np.ndarray:
    """CT (HU) with noise (correlated: white noise smoothed by one voxel), on the phantom's
    grid; the lesions painted in at their sites' CT numbers (attenuation stays the tissue's)."""
    noise = ndimage.gaussian_filter(
        rng.normal(0.0, 1.0, phantom.grid.shape).astype(np.float32), 0.7
    )
    noise *= np.float32(12.0 / max(float(noise.std()), 1e-6))  # ~12 HU in soft tissue
    hu = paint_lesion_hu(phantom.hu, phantom.grid, lesions) if lesions else phantom.hu
    return np.where(phantom.labels > 0, hu + noise, -1000.0).astype(np.float32)


def make_scanners(config: SimulationConfig, modality_kind: str, nuclide: str):
    """(PET scanner, SPECT scanner) of ``config``, one of them None."""
    if modality_kind == "pet":
        pet = get_pet_scanner(
            config.pet_model,
            iterations=config.iterations,
            subsets=config.subsets,
            psf=config.psf,
            postfilter_fwhm_mm=config.postfilter_fwhm_mm,
        )
        return pet, None
    spect = get_spect_scanner(
        nuclide,
        iterations=config.iterations,
        subsets=config.subsets,
        postfilter_fwhm_mm=config.postfilter_fwhm_mm,
    )
    return None, spect


def _lesion_label_map(phantom, lesions: list[Lesion]) -> np.ndarray:
    """Label map of the lesions (voxels at least half inside a lesion get its id)."""
    lesion_map = np.zeros(phantom.grid.shape, dtype=np.uint16)
    for les in lesions:
        sl, frac = lesion_occupancy(phantom.grid, les.center_mm, les.diameter_mm)
        sub = lesion_map[sl]
        sub[frac >= 0.5] = les.id
    return lesion_map


def _nema_truth(config: SimulationConfig, phantom, spheres, occupancy) -> tuple[np.ndarray, dict]:
    """True activity concentration (Bq/mL) of the NEMA IEC phantom and its manifest entry."""
    bkg = config.nema_background_kbqml * 1000.0
    hot = bkg * config.nema_sphere_ratio
    truth = np.where(phantom.labels == 1, bkg, 0.0).astype(np.float32)
    for occ in occupancy.values():
        m = occ > 0
        truth[m] = occ[m] * hot
    info = {
        "background_bqml": bkg,
        "sphere_bqml": hot,
        "spheres": [
            {"inner_diameter_mm": s.inner_diameter_mm, "center_mm": list(s.center_mm)}
            for s in spheres
        ],
    }
    return truth, info


def simulate_study(
    config: SimulationConfig, progress: Callable[[str, int, int], None] | None = None
) -> SimulatedStudy:
    """Simulate the study described by ``config`` (in memory; nothing is written).

    ``progress(stage, done, total)`` is called during reconstruction.
    """
    agent = get_agent(config.tracer)
    name = agent.name
    nuclide = canonical_nuclide(agent.radionuclide)
    is_lu = nuclide == "Lu-177"
    if not is_lu:
        agent_uptake(name)  # raises for agents without uptake data
    modality_kind = _modality_kind(config, name, nuclide)
    rng = np.random.default_rng(config.seed)
    variation = draw_variation(config.seed) if config.patient_variability else None
    voxel = float(config.voxel_mm or (4.0 if modality_kind == "pet" else 4.8))
    timepoints = tuple(config.timepoints_h or _default_timepoints(name, agent))
    if any(t < 0 for t in timepoints):
        raise NenscopeError("time points must be ≥ 0 h after injection")
    uids = _uids(config)
    lesions: list[Lesion] = []
    outside: list[int] = []
    nema = config.phantom == "nema-iec"
    if nema:
        phantom, spheres, occupancy = build_nema_phantom(voxel, config.n_pixels)
        weight_kg, height_cm, sex = 70.0, 170.0, "O"  # nominal, for a complete SUV header
    else:
        if modality_kind == "spect":
            # window centred at z = -630 mm (upper abdomen) whatever its length
            lo = -430.0 + (config.spect_axial_fov_mm - 400.0) / 2.0
            z_range = (lo, lo - config.spect_axial_fov_mm)
            n_pix = config.n_pixels or int(np.ceil(460.0 / voxel / 2.0) * 2)
        else:
            z_range = (0.0, -1000.0)
            n_pix = config.n_pixels
        phantom = build_patient_phantom(
            voxel_mm=voxel,
            n_pixels=n_pix,
            sex=config.sex,
            height_cm=config.height_cm,
            weight_kg=config.weight_kg,
            z_range_mm=z_range,
        )
        weight_kg, height_cm, sex = phantom.weight_kg, phantom.height_cm, phantom.sex
        lesions = place_lesions(
            _placement_phantom(phantom, config),
            config.n_lesions,
            config.tumour_type,
            rng,
            config.lesion_sites,
        )
        outside = [les.id for les in lesions if not _in_field(phantom, les)]
        lesions = [les for les in lesions if les.id not in outside]
    injected_mbq = _injected_mbq(config, agent, weight_kg, nema)
    hl = half_life_s(nuclide)
    ct_hu = noisy_ct(phantom, lesions, rng)
    # the small glands' uptake of this patient (SSTR agents), from its own stream so that the
    # other draws of a seed stay as they were
    glands = gland_suvs(name, rng.spawn(1)[0]) if not (nema or is_lu) else {}
    frames: list[EmissionFrame] = []
    pet_scanner, spect_scanner = make_scanners(config, modality_kind, nuclide)
    mu = hu_to_mu_per_mm(phantom.hu, 511.0) if pet_scanner is not None else None
    projector = None
    organ_truth: dict = {}
    nema_truth: dict = {}
    image_blood_pool = float("nan")
    for ti, t_h in enumerate(timepoints):
        decay = math.exp(-math.log(2) * t_h * 3600.0 / hl)
        if nema:
            truth, nema_truth = _nema_truth(config, phantom, spheres, occupancy)
            if injected_mbq is None:
                injected_mbq = float(truth.sum() * voxel**3 / 1000.0 / 1e6 / decay)
        elif is_lu:
            truth, organ_truth[f"{t_h:g}"] = lu177_concentration_bqml(
                phantom, lesions, t_h, injected_mbq * 1e6, weight_kg, variation
            )
        else:
            suv = suv_map(phantom, name, lesions, variation, glands)
            truth = (suv * np.float32(injected_mbq * 1e6 * decay / (weight_kg * 1000.0))).astype(
                np.float32
            )
            if ti == 0 and pet_scanner is not None and agent_uptake(name)["target"] == "sstr":
                image_blood_pool = image_krenning(
                    suv, phantom, lesions, voxel_mm=voxel, nuclide=nuclide, scanner=pet_scanner
                )

        def _prog(done, total, _t=ti):
            if progress:
                progress(f"reconstruction {_t + 1}/{len(timepoints)}", done, total)

        if modality_kind == "pet":
            image, stats = simulate_pet(
                truth, mu, voxel, nuclide, pet_scanner, config.minutes_per_bed, rng, progress=_prog
            )
        else:
            image, stats, projector = simulate_spect(
                truth, phantom.hu, voxel, spect_scanner, rng, progress=_prog, projector=projector
            )
        acq = INJECTION_DATETIME + timedelta(hours=t_h)
        frames.append(
            EmissionFrame(
                volume=_volume(image, phantom, uids["frame_of_reference"]),
                time_h=t_h,
                acquisition_datetime=acq,
                truth_bqml=truth,
                stats=stats,
            )
        )
    lesion_map = _lesion_label_map(phantom, lesions)
    for_uid = uids["frame_of_reference"]
    sim = SimulatedStudy(
        config=config,
        modality="PT" if modality_kind == "pet" else "NM",
        agent=name,
        radionuclide=nuclide,
        half_life_s=hl,
        injected_mbq=float(injected_mbq),
        injection_datetime=INJECTION_DATETIME,
        weight_kg=weight_kg,
        height_cm=height_cm,
        sex=sex,
        frames=frames,
        ct=_volume(ct_hu, phantom, for_uid),
        organs=_volume(phantom.labels, phantom, for_uid),
        organ_names=dict(phantom.label_names),
        lesion_labels=_volume(lesion_map, phantom, for_uid),
        lesions=lesions,
        truth={},
        uids=uids,
        variation=variation,
        glands=glands,
        image_blood_pool_suv=image_blood_pool,
    )
    sim.truth = build_manifest(
        sim,
        phantom,
        pet_scanner=pet_scanner,
        spect_scanner=spect_scanner,
        organ_truth=organ_truth,
        nema=nema_truth,
    )
    if outside:  # placed on the reference grid, outside this scan's field
        sim.truth["lesions_outside_field_of_view"] = outside
    return sim
