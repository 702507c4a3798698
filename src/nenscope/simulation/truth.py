"""The ground truth of a simulated study as a JSON-ready manifest (``truth/manifest.json``)."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from nenscope import __version__
from nenscope.simulation._data import load
from nenscope.simulation.activity import (
    agent_uptake,
    lu177_patient_regions,
    lu177_tumour_region,
    organ_suv,
)
from nenscope.simulation.retention import whole_body_retention

__all__ = ["build_manifest"]


def _r(x: float, n: int = 6) -> float:
    return float(f"{x:.{n}g}")


def build_manifest(
    sim, phantom, *, pet_scanner=None, spect_scanner=None, organ_truth=None, nema=None
) -> dict:
    """Manifest of ``sim``: patient, tracer, acquisition, scanner, organs, lesions (and NEMA)."""
    voxel_ml = phantom.grid.voxel_mm**3 / 1000.0
    counts = np.bincount(phantom.labels.ravel(), minlength=256)
    is_lu = sim.radionuclide == "Lu-177"
    times = [f.time_h for f in sim.frames]
    manifest: dict = {
        "generator": f"nenscope {__version__} simulation",
        "config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(sim.config).items()
        },
        "patient": {
            "sex": sim.sex,
            "weight_kg": sim.weight_kg,
            "height_cm": sim.height_cm,
            "tumour_type": sim.config.tumour_type if sim.config.phantom == "patient" else None,
            "phantom": sim.config.phantom,
        },
        "tracer": {
            "agent": sim.agent,
            "radionuclide": sim.radionuclide,
            "half_life_s": sim.half_life_s,
            "injected_mbq": sim.injected_mbq,
            "injection_datetime": sim.injection_datetime.isoformat(),
        },
        "acquisition": {
            "modality": sim.modality,
            "timepoints_h": times,
            "acquisition_datetimes": [f.acquisition_datetime.isoformat() for f in sim.frames],
            "minutes_per_bed": sim.config.minutes_per_bed if sim.modality == "PT" else None,
            "units": "BQML",
            "decay_correction": "START",
            "statistics": [f.stats for f in sim.frames],
        },
        "geometry": {
            "shape": list(phantom.grid.shape),
            "spacing_mm": phantom.grid.voxel_mm,
            "affine_lps": phantom.grid.affine.tolist(),
            "axes": "array axis 0 = slice (head to feet), 1 = row (+y posterior), 2 = column (+x left)",
        },
        "scanner": asdict(pet_scanner)
        if pet_scanner
        else (asdict(spect_scanner) if spect_scanner else None),
        "suv_definition": "SUVbw = C[Bq/mL] * weight[g] / injected activity decayed to acquisition start [Bq]",
    }
    organs: dict = {}
    if sim.config.phantom == "patient" and not is_lu:
        row = agent_uptake(sim.agent)
        suv_to_bqml = 1.0 / sim.suv_factor(0)
        for k, name in phantom.label_names.items():
            # the organ tissue's own SUV (lesions inside it are listed separately)
            suv = organ_suv(sim.agent, name, sim.variation) if counts[k] else None
            organs[name] = {
                "label": k,
                "volume_ml": _r(counts[k] * voxel_ml),
                "true_suv_mean": None if suv is None else _r(suv, 4),
                "true_bqml_mean": None if suv is None else _r(suv * suv_to_bqml),
            }
        manifest["uptake_source"] = row["citation"]
    elif is_lu and sim.config.phantom == "patient":
        regions = lu177_patient_regions(phantom, sim.variation)
        kin = load("kinetics_lu177")
        for k, name in phantom.label_names.items():
            reg = regions[kin["label_region"][name]]
            curve = [organ_truth[f"{t:g}"][name] for t in times]
            activity0 = curve[0]["activity_bq"] / max(float(reg.shape(times[0])), 1e-12)
            organs[name] = {
                "label": k,
                "volume_ml": _r(counts[k] * voxel_ml),
                "in_field_of_view": bool(counts[k]),
                "region": reg.name,
                "time_h": times,
                "activity_mbq": [_r(c["activity_bq"] / 1e6) for c in curve],
                "bqml": [_r(c["bqml"]) for c in curve],
                "kinetics": {**reg.describe(), "a0_mbq": _r(activity0 / 1e6)},
                "tia_mbq_h": _r(activity0 / 1e6 * reg.integral_h()),
            }
        manifest["whole_body"] = _lu177_whole_body(sim, organs, times)
    manifest["organs"] = organs
    if sim.variation is not None:
        manifest["patient_variation"] = sim.variation.to_dict()
    lesions = []
    for les in sim.lesions:
        d = les.to_dict()
        extra = d.pop("extra", {})
        if is_lu:
            reg = lu177_tumour_region(les.sstr_expression, sim.variation)
            c0 = reg.suv0 * sim.injected_mbq * 1e6 / (sim.weight_kg * 1000.0)
            d["time_h"] = times
            d["bqml"] = [_r(extra["bqml_at"][f"{t:g}"]) for t in times]
            d["activity_mbq"] = [_r(c * les.volume_ml / 1e6) for c in d["bqml"]]
            d["kinetics"] = {**reg.describe("c0"), "c0_bqml": _r(c0)}
            d["tia_mbq_h"] = _r(c0 * les.volume_ml / 1e6 * reg.integral_h())
            d["true_suv_mean"] = None
        lesions.append(d)
    manifest["lesions"] = lesions
    if nema:
        manifest["nema_iec"] = nema
    manifest["half_life_check_h"] = (
        _r(sim.half_life_s / 3600.0) if not math.isnan(sim.half_life_s) else None
    )
    return manifest


def _lu177_whole_body(sim, organs: dict, times: list[float]) -> dict:
    """Where the injected 177Lu is at each time point (percent of injected activity).

    ``retained``: in the patient (cited whole-body retention, physical decay included, plus the
    lesions); ``in_field_of_view``: organs and lesions inside the scan; ``excreted``: in the
    urine so far (decayed).
    """
    wbr = whole_body_retention()
    t = np.asarray(times, dtype=float)
    decay = np.exp(-math.log(2) * t * 3600.0 / sim.half_life_s)
    lesion_mbq = np.zeros_like(t)
    for les in sim.lesions:
        lesion_mbq += np.array(
            [les.extra["bqml_at"][f"{x:g}"] * les.volume_ml / 1e6 for x in times], dtype=float
        )
    field = lesion_mbq + np.sum([o["activity_mbq"] for o in organs.values()], axis=0)
    pct = 100.0 / sim.injected_mbq
    return {
        "time_h": times,
        "retained_percent_ia": [_r(x) for x in 100.0 * decay * wbr.fraction(t) + pct * lesion_mbq],
        "in_field_of_view_percent_ia": [_r(x) for x in pct * field],
        "excreted_percent_ia": [_r(x) for x in 100.0 * decay * (1.0 - wbr.fraction(t))],
        "retention_model": {
            "slow_fraction": _r(wbr.slow_fraction),
            "slow_biological_half_life_h": _r(wbr.slow_half_life_h),
            "fast_biological_half_life_h": _r(wbr.fast_half_life_h),
            "citation": wbr.citation,
        },
    }
