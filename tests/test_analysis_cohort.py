"""Validation of analyze() on the virtual NET cohort (simulator truth).

Each virtual patient is simulated twice from the same seed (same anatomy and lesions): a
68Ga-DOTATATE PET/CT and an 18F-FDG PET/CT. The figures of the issue are measured:

- lesion-level sensitivity for lesions >= 10 mm that SSTR imaging can show (Krenning truth
  >= 2, less liver metastases with exactly liver uptake, which have no contrast); all
  lesions are reported too,
- false positives per patient,
- Krenning agreement on the detected lesions whose image-based Krenning truth (maximum of
  the noise-free blurred image against its liver and spleen means) is more than 15 % from a
  grade boundary,
- NETPET grade agreement,
- liver SUVmean and blood-pool (descending aorta) errors against the simulator's organ truth.

CI runs ``NENSCOPE_COHORT_N`` patients (default 4: one G1, two G2, one G3, 24 lesions) in the
automatic mode (no organ masks) and asserts the issue's targets on them;
``NENSCOPE_COHORT_N=20`` runs the full cohort and prints the table, ``NENSCOPE_COHORT_SEED0=200``
another seed set (200, 300), ``NENSCOPE_COHORT_MASKS=1`` the organ-mask mode (docs/analysis.md holds the
last full runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
import pytest

from conftest import _cached, cached_simulation
from nenscope.analysis import AnalysisOptions, Findings, analyze, analyze_volume
from nenscope.analysis.calibration import calibrate_nema
from nenscope.analysis.scanner import ScannerProfile
from nenscope.analysis.scores import netpet_grade, netpet_lesion
from nenscope.imaging import Patient, Study, SuvFactors
from nenscope.simulation.study import SimulationConfig

N_PATIENTS = int(os.environ.get("NENSCOPE_COHORT_N", "4"))
# first seed: 100-119 were looked at while the method was developed; 200-219 and 300-319
# are further sets (docs/analysis.md reports all three)
SEED0 = int(os.environ.get("NENSCOPE_COHORT_SEED0", "100"))
# the automatic path (no organ masks, as the issue asks) by default; NENSCOPE_COHORT_MASKS=1
# gives the simulator's organ label map as masks (as TotalSegmentator would supply them)
MASKS = os.environ.get("NENSCOPE_COHORT_MASKS", "0") == "1"
# a site that calibrated its scanner (nenscope calibrate on the simulator's NEMA IEC phantom)
# gets the partial-volume-corrected uptakes NETPET compares; NENSCOPE_COHORT_SCANNER=none
# runs without a scanner profile (a new user: no suv_pvc, NETPET on SUVpeak)
SCANNER = os.environ.get("NENSCOPE_COHORT_SCANNER", "nema") != "none"
TUMOUR_TYPES = ("G1", "G2", "G3", "G2")


def sim_to_study(sim, *, frame_of_reference_uid: str | None = None) -> Study:
    """A :class:`Study` from an in-memory simulated study (SUVbw factor from its truth).

    ``frame_of_reference_uid`` replaces the simulator's: the SSTR and FDG studies of one
    virtual patient share the same phantom coordinates (like a same-session dual-tracer
    PET/CT), so the FDG study can be declared in the SSTR study's frame.
    """
    emission, ct = sim.emission, sim.ct
    if frame_of_reference_uid is not None:
        emission = hd.Volume(
            np.asarray(emission.array),
            emission.affine,
            "PATIENT",
            frame_of_reference_uid=frame_of_reference_uid,
        )
        ct = hd.Volume(
            np.asarray(ct.array),
            ct.affine,
            "PATIENT",
            frame_of_reference_uid=frame_of_reference_uid,
        )
    return Study(
        modality=sim.modality,
        emission=emission,
        units="BQML",
        suv=SuvFactors(bw=sim.suv_factor()),
        ct=ct,
        agent=sim.agent,
        radionuclide=sim.radionuclide,
        injected_activity_bq=sim.injected_mbq * 1e6,
        patient=Patient(sex=sim.sex, weight_kg=sim.weight_kg, height_m=sim.height_cm / 100.0),
        frame_of_reference_uid=emission.frame_of_reference_uid,
        series_instance_uid=sim.uids.get("pet_series"),
    )


def organ_masks(sim) -> dict[str, np.ndarray]:
    """The simulator's organ label map as named masks (as TotalSegmentator would give)."""
    lab = np.asarray(sim.organs.array)
    return {name: lab == k for k, name in sim.organ_names.items() if name not in ("body", "fat")}


def truth_netpet(sim, fsim) -> str:
    """NETPET truth: the lesion rule of :func:`netpet_lesion` applied to the true uptakes.

    SSTR status from the image-based Krenning truth (the lesion as SSTR PET can show it, as
    the Krenning score is read: a moderate 1 cm lesion blurred below the liver is SSTR-low);
    FDG status and the FDG/SSTR comparison from the true lesion and liver SUVs of both studies
    (Chan 2017).
    """
    if fsim is None:
        return ""
    sstr_liver = sim.truth["organs"]["liver"]["true_suv_mean"]
    fdg_liver = fsim.truth["organs"]["liver"]["true_suv_mean"]
    grades = [
        netpet_lesion(s.krenning_image, s.true_suv_mean / sstr_liver, f.true_suv_mean, fdg_liver)
        for s, f in zip(sim.lesions, fsim.lesions, strict=True)
    ]
    return netpet_grade(grades) or "P0"


@dataclass
class PatientResult:
    seed: int
    tumour_type: str
    n_true: int = 0
    detected: list[bool] = field(default_factory=list)
    diameters: list[float] = field(default_factory=list)
    krenning_true: list[int] = field(default_factory=list)
    krenning_image: list[int] = field(default_factory=list)
    krenning_clear: list[bool] = field(default_factory=list)
    in_liver: list[bool] = field(default_factory=list)
    krenning_found: list[int | None] = field(default_factory=list)
    false_positives: int = 0
    liver_error: float = 0.0
    blood_pool_error: float = float("nan")
    netpet_true: str = ""
    netpet_found: str | None = None


def evaluate(sim, findings: Findings, seed: int) -> PatientResult:
    """Match found lesions to the truth label map (overlap of the lesion masks)."""
    truth_lab = np.asarray(sim.lesion_labels.array)
    found_lab = np.asarray(findings.labels.array)
    res = PatientResult(seed=seed, tumour_type=sim.config.tumour_type, n_true=len(sim.lesions))
    by_label = {les.label: les for les in findings.lesions}
    matched_found: set[int] = set()
    for les in sim.lesions:
        m = truth_lab == les.id
        hits = np.unique(found_lab[m])
        hits = [int(h) for h in hits if h > 0]
        res.detected.append(bool(hits))
        res.diameters.append(les.diameter_mm)
        res.krenning_true.append(les.krenning_true)
        res.krenning_image.append(les.krenning_image)
        res.krenning_clear.append(les.krenning_boundary_distance > 0.15)
        res.in_liver.append(les.site == "liver")
        if hits:
            # the found lesion holding most of the true one
            best = max(hits, key=lambda h: int((found_lab[m] == h).sum()))
            res.krenning_found.append(by_label[best].krenning)
            matched_found.update(hits)
        else:
            res.krenning_found.append(None)
    res.false_positives = sum(1 for les in findings.lesions if les.label not in matched_found)
    liver_true = sim.truth["organs"]["liver"]["true_suv_mean"]
    res.liver_error = findings.reference.liver.suv_mean / liver_true - 1.0
    blood = findings.reference.blood_pool
    if blood is not None:
        res.blood_pool_error = blood.suv_mean / blood_pool_truth(sim) - 1.0
    return res


def blood_pool_truth(sim) -> float:
    """The blood-pool truth: PERCIST's cylinder on the descending thoracic aorta's axis on the
    noise-free image (``image_suv_mean``, as the independent family's truth), else the true
    blood SUV. The 22 mm vessel's axis reads ~5 % below the blood's SUV there (positron range,
    PSF and post-filter)."""
    aorta = sim.truth["organs"]["aorta"]
    return float(aorta.get("image_suv_mean", aorta["true_suv_mean"]))


def simulate_pair(seed: int, tumour_type: str, *, with_fdg: bool = True):
    """The SSTR (and FDG) studies of one virtual patient."""
    cfg = dict(n_lesions=6, seed=seed, tumour_type=tumour_type)
    sim = cached_simulation(SimulationConfig(tracer="68Ga-DOTATATE", **cfg))
    fsim = cached_simulation(SimulationConfig(tracer="18F-FDG", **cfg)) if with_fdg else None
    return sim, fsim


def simulator_profile() -> ScannerProfile:
    """The simulator's scanner as a site would calibrate it: ``calibrate_nema`` on its NEMA
    IEC phantom (18F, 10:1 filling). Calibrated once per test run (``conftest._cached``: the
    cohort and the follow-up validation pairs share it); a copy per call."""
    cfg = SimulationConfig(tracer="18F-FDG", phantom="nema-iec", seed=1)

    def calibrate() -> ScannerProfile:
        nema = cached_simulation(cfg)
        result = calibrate_nema(sim_to_study(nema), sphere_ratio=cfg.nema_sphere_ratio)
        return result.profile("nenscope simulator (EARL-like)")

    return _cached(f"simulator_profile {cfg!r}", calibrate)


def analyze_pair(sim, fsim, *, masks: bool, seed: int, scanner: ScannerProfile | None = None):
    fdg = None
    if fsim is not None:
        fdg = sim_to_study(fsim, frame_of_reference_uid=sim.emission.frame_of_reference_uid)
    f = analyze(
        sim_to_study(sim),
        fdg=fdg,
        options=AnalysisOptions(scanner=scanner),
        organ_masks=organ_masks(sim) if masks else None,
        fdg_organ_masks=organ_masks(fsim) if (masks and fsim is not None) else None,
    )
    res = evaluate(sim, f, seed)
    res.netpet_true = truth_netpet(sim, fsim)
    res.netpet_found = f.summary.netpet
    return res, f


def summarise(results: list[PatientResult]) -> dict[str, float]:
    det = np.concatenate([r.detected for r in results]).astype(bool)
    diam = np.concatenate([r.diameters for r in results])
    kt = np.concatenate([r.krenning_true for r in results])
    kf = [k for r in results for k in r.krenning_found]
    ki = np.concatenate([r.krenning_image for r in results])
    clear = np.concatenate([r.krenning_clear for r in results]).astype(bool)
    liv = np.concatenate([r.in_liver for r in results]).astype(bool)
    big = diam >= 10.0
    # SSTR-visible: uptake at least about liver (Krenning >= 2), except liver metastases with
    # uptake equal to the liver's (Krenning 2 in the liver has no contrast at all)
    avid = big & (kt >= 2) & ~(liv & (kt == 2))
    pairs = [(a, b) for a, b, d, c in zip(ki, kf, det, clear, strict=True) if d and c]
    out = {
        "patients": len(results),
        "lesions": int(det.size),
        "sensitivity_ge10mm_sstr_visible": float(det[avid].mean()) if avid.any() else float("nan"),
        "sensitivity_ge10mm_all": float(det[big].mean()) if big.any() else float("nan"),
        "fp_per_patient": float(np.mean([r.false_positives for r in results])),
        "krenning_agreement": float(np.mean([a == b for a, b in pairs])) if pairs else float("nan"),
        "netpet_correct": float(np.mean([r.netpet_found == r.netpet_true for r in results])),
        "liver_error_max_abs": float(np.max(np.abs([r.liver_error for r in results]))),
        "blood_pool_error_max_abs": float(np.max(np.abs([r.blood_pool_error for r in results]))),
    }
    return out


@pytest.fixture(scope="module")
def cohort():
    results = []
    scanner = simulator_profile() if SCANNER else None
    for i in range(N_PATIENTS):
        seed = SEED0 + i
        sim, fsim = simulate_pair(seed, TUMOUR_TYPES[i % len(TUMOUR_TYPES)])
        res, _ = analyze_pair(sim, fsim, masks=MASKS, seed=seed, scanner=scanner)
        results.append(res)
    return results


# The targets. The CI cohort (4 fixed seeds, automatic mode) meets all of them and
# asserts them; a larger run asserts them too (docs/analysis.md holds the last full runs).
TARGETS = {
    "sensitivity_ge10mm_sstr_visible": 0.9,
    "fp_per_patient": 1.0,
    "krenning_agreement": 0.9,
    "netpet_correct": 0.9,
    "liver_error_max_abs": 0.05,
    "blood_pool_error_max_abs": 0.10,
}


@pytest.mark.slow
def test_cohort_figures(cohort):
    s = summarise(cohort)
    mode = ("organ masks" if MASKS else "automatic") + (", NEMA profile" if SCANNER else "")
    print(f"\nvirtual cohort ({mode}):")
    for key, target in TARGETS.items():
        better = (
            s[key] <= target
            if key in ("fp_per_patient", "liver_error_max_abs", "blood_pool_error_max_abs")
            else (s[key] >= target)
        )
        print(f"  {key:34s} {s[key]:.3f}  target {target}  {'met' if better else 'NOT met'}")
    for key in ("patients", "lesions", "sensitivity_ge10mm_all"):
        print(f"  {key:34s} {s[key]:.3f}")
    for r in cohort:
        print(
            f"  seed {r.seed} {r.tumour_type}: detected {sum(r.detected)}/{r.n_true}, FP "
            f"{r.false_positives}, Krenning (image) {r.krenning_image} -> {r.krenning_found}, "
            f"NETPET {r.netpet_true} -> {r.netpet_found}, liver {100 * r.liver_error:+.1f} %, "
            f"blood pool {100 * r.blood_pool_error:+.1f} %"
        )
    assert s["liver_error_max_abs"] <= TARGETS["liver_error_max_abs"]
    assert s["sensitivity_ge10mm_sstr_visible"] >= TARGETS["sensitivity_ge10mm_sstr_visible"]
    assert s["fp_per_patient"] <= TARGETS["fp_per_patient"]
    assert s["krenning_agreement"] >= TARGETS["krenning_agreement"]
    assert s["netpet_correct"] >= TARGETS["netpet_correct"]
    assert s["blood_pool_error_max_abs"] <= TARGETS["blood_pool_error_max_abs"]


@pytest.mark.parametrize(
    ("seed", "site", "organ"),
    [
        (100, "pancreas", "kidney (auto)"),  # 22 mm SUV-40 NET fused with the left kidney
        # 22 mm SUV-16 NET (uptake like the kidney's): split off by its own watershed basin
        (209, "pancreas", "kidney (auto)"),
        (119, "small_bowel", "urinary bladder (auto)"),  # 17 mm SUV-16 loop on the bladder
    ],
)
def test_lesion_fused_with_an_organ_is_split_off(seed, site, organ):
    """Automatic mode: a lesion touching a recognised kidney or the bladder is kept."""
    sim, _ = simulate_pair(seed, TUMOUR_TYPES[(seed - 100) % len(TUMOUR_TYPES)], with_fdg=False)
    res, f = analyze_pair(sim, None, masks=False, seed=seed)
    assert organ in f.summary.suppressed
    assert sim.lesions[0].site == site
    assert res.detected[0]
    assert res.false_positives <= 1


@pytest.mark.parametrize(
    ("seed", "index", "site"),
    [
        # 22 mm SUV-40 sacral metastasis, hotter than the urine: the bladder is the largest
        # hot pelvic structure, so the metastasis is no longer taken for it
        (515, 3, "bone"),
        # 25 mm SUV-8 mesenteric metastasis 33 mm from a SUV-40 one: split off on the
        # detection image with half a voxel of extra smoothing (one voxel filled the saddle)
        (415, 1, "mesentery"),
        # 32 mm SUV-16 metastasis in the posterior right lobe (40 ml above the threshold):
        # wholly inside the liver mask, so never taken for the right kidney
        (105, 1, "liver"),
    ],
)
def test_lesion_next_to_an_organ_is_found(seed, index, site):
    """Automatic mode: lesions the organ priors, the liver's edge or a hot neighbour hid."""
    sim, _ = simulate_pair(seed, TUMOUR_TYPES[(seed - 100) % len(TUMOUR_TYPES)], with_fdg=False)
    res, f = analyze_pair(sim, None, masks=False, seed=seed)
    assert sim.lesions[index].site == site
    assert res.detected[index]
    assert res.false_positives <= 1


@pytest.mark.slow
def test_fdg_avid_liver_metastasis_without_sstr_contrast_is_graded_p4():
    """Seed 303 (G2): a 17 mm liver metastasis with liver-level SSTR uptake (Krenning 2,
    invisible on SSTR PET) and 1.8 x the FDG liver uptake makes the patient NETPET P4.

    FDG finds it only with the liver's noise-calibrated detection level (its smoothed maximum
    3.3 is below PERCIST's 4.0); its SSTR uptake then grades it. On FDG, the 33 mm metastasis
    in the posterior right lobe is not taken for a kidney (it lies 41 mm in front of it).
    """
    sim, fsim = simulate_pair(303, TUMOUR_TYPES[(303 - 100) % len(TUMOUR_TYPES)])
    assert [(s.site, s.krenning_true) for s in sim.lesions][2:4] == [("liver", 3), ("liver", 2)]
    res, f = analyze_pair(sim, fsim, masks=False, seed=303)
    assert res.netpet_true == "P4"
    assert not res.detected[3]  # no contrast on SSTR
    assert f.summary.netpet == "P4"
    assert any("no SSTR lesion" in w and "NETPET P4" in w for w in f.warnings)
    fdg = sim_to_study(fsim)
    fva = analyze_volume(fdg.suv("bw"), agent_class="fdg", ct=fdg.ct, options=AnalysisOptions())
    truth = np.asarray(fsim.lesion_labels.array)
    for index in (2, 3):
        assert (fva.labels[truth == fsim.lesions[index].id] > 0).any()
    assert "kidney (auto)" in fva.suppressed
