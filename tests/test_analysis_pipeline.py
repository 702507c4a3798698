"""analyze(): the whole pipeline on synthetic SSTR and FDG studies with known lesions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nenscope.analysis import AnalysisOptions, analyze
from nenscope.errors import NenscopeError
from nenscope.imaging import Patient, Study, SuvFactors
from test_analysis_phantom import FDG_UPTAKE, SSTR_UPTAKE, Lesion, make_phantom

# (centre LPS mm, diameter mm, SSTR SUV, FDG SUV)
LESIONS = [
    ((-60.0, -10.0, 40.0), 26.0, 40.0, 2.0),  # liver, Krenning 4, FDG negative
    ((30.0, -60.0, -100.0), 20.0, 16.0, 10.0),  # soft tissue, Krenning 3, FDG > SSTR
    # soft tissue, Krenning 2 (about liver), anterior abdomen; not at (-30, 60, -5), the right
    # adrenal's site above the kidney's upper pole, where liver-level uptake is physiological
    # to the automatic detectors (nenscope.analysis.physiology)
    ((-20.0, -60.0, -60.0), 18.0, 8.0, 2.0),
]
FDG_ONLY = ((40.0, -40.0, 0.0), 22.0, 1.0, 12.0)  # SSTR-negative, FDG-avid


def _study(uptake, lesions, *, agent, seed, affine_shift=None, for_uid="1.2.3.4"):
    ph = make_phantom([Lesion(c, d, v) for c, d, v in lesions], uptake=uptake, seed=seed)
    suv, ct = ph.suv, ph.ct
    if affine_shift is not None:
        aff = suv.affine.copy()
        aff[:3, 3] += affine_shift
        import highdicom as hd

        suv = hd.Volume(np.asarray(suv.array), aff, "PATIENT", frame_of_reference_uid=for_uid)
        ct = hd.Volume(np.asarray(ct.array), aff, "PATIENT", frame_of_reference_uid=for_uid)
    study = Study(
        modality="PT",
        emission=suv,
        units="BQML",
        suv=SuvFactors(bw=1.0),
        ct=ct,
        agent=agent,
        patient=Patient(sex="M", weight_kg=70.0, height_m=1.75),
        series_instance_uid="9.8.7",
    )
    return study, ph


@pytest.fixture(scope="module")
def sstr_pair():
    sstr, ph = _study(
        SSTR_UPTAKE,
        [(c, d, s) for c, d, s, _ in [*LESIONS, FDG_ONLY]],
        agent="68Ga-DOTATATE",
        seed=11,
    )
    fdg, _ = _study(
        FDG_UPTAKE, [(c, d, f) for c, d, _, f in [*LESIONS, FDG_ONLY]], agent="18F-FDG", seed=12
    )
    return sstr, fdg, ph


def _nearest(findings, centre):
    d = [np.linalg.norm(np.subtract(les.center_mm, centre)) for les in findings.lesions]
    i = int(np.argmin(d))
    return findings.lesions[i], d[i]


def test_sstr_lesions_metrics_and_scores(sstr_pair):
    sstr, _, ph = sstr_pair
    f = analyze(sstr)
    assert f.reference.liver.suv_mean == pytest.approx(SSTR_UPTAKE["liver"], rel=0.05)
    assert f.reference.spleen.suv_mean == pytest.approx(SSTR_UPTAKE["spleen"], rel=0.05)
    expected_krenning = [4, 3, 2]
    for (centre, diam, _, _), k in zip(LESIONS, expected_krenning, strict=True):
        les, dist = _nearest(f, centre)
        assert dist < 4.0  # centre of mass within one voxel
        assert les.krenning == k
        assert les.volume_ml == pytest.approx(np.pi / 6 * diam**3 / 1000, rel=1.5)
        assert les.suv_max >= les.suv_peak >= 0.5 * les.suv_max
        assert les.tla == pytest.approx(les.suv_mean * les.volume_ml)
        assert les.tlr == pytest.approx(les.suv_max / f.reference.liver.suv_mean)
    liver_les, _ = _nearest(f, LESIONS[0][0])
    assert liver_les.site == "liver"
    assert liver_les.sstr_rads in ("4", "5")
    # the SSTR-negative lesion is not an SSTR lesion; spleen, kidneys and bladder are
    # physiological and suppressed
    _, dist = _nearest(f, FDG_ONLY[0])
    assert dist > 15.0
    assert f.summary.n_lesions == len(LESIONS)
    assert any("kidney" in s for s in f.summary.suppressed)
    assert any("spleen" in s for s in f.summary.suppressed)
    assert any("bladder" in s for s in f.summary.suppressed)
    assert f.summary.krenning_max == 4
    assert f.summary.sstr_tv_ml == pytest.approx(sum(les.volume_ml for les in f.lesions))
    assert f.summary.tl_sstr == pytest.approx(sum(les.tla for les in f.lesions))
    # label map on the emission grid
    assert np.allclose(f.labels.affine, sstr.emission.affine)
    assert int(np.asarray(f.labels.array).max()) == f.summary.n_lesions


def test_findings_json_layout(sstr_pair):
    sstr, _, _ = sstr_pair
    d = json.loads(json.dumps(analyze(sstr).to_dict()))
    assert set(d) >= {"study", "reference", "lesions", "summary"}
    assert {"liver_suv_mean", "spleen_suv_mean", "blood_pool_suv_mean"} <= set(d["reference"])
    assert {
        "id",
        "site",
        "center_mm",
        "volume_ml",
        "suv_max",
        "suv_peak",
        "suv_mean",
        "tla",
        "tlr",
        "krenning",
        "sstr_rads",
        "fdg_suv_max",
    } <= set(d["lesions"][0])
    assert {
        "n_lesions",
        "sstr_tv_ml",
        "tl_sstr",
        "krenning_max",
        "prrt_criterion_met",
        "prrt_reason",
        "netpet",
    } <= set(d["summary"])
    assert d["study"]["agent"] == "68Ga-DOTATATE" and d["study"]["agent_class"] == "sstr"
    assert len(d["lesions"][0]["center_mm"]) == 3


def test_netpet_with_fdg_same_frame(sstr_pair):
    sstr, fdg, _ = sstr_pair
    f = analyze(sstr, fdg=fdg)
    assert f.fdg_reference.liver.suv_mean == pytest.approx(FDG_UPTAKE["liver"], rel=0.05)
    grades = {}
    for centre, *_ in LESIONS:
        les, _ = _nearest(f, centre)
        assert les.fdg_suv_max is not None
        grades[centre] = les.netpet
    assert grades[LESIONS[0][0]] == "P1"  # FDG 2 < liver 2.5
    assert grades[LESIONS[1][0]] == "P4"  # FDG 4x liver > SSTR 2x liver
    assert len(f.fdg_only_lesions) == 1
    assert np.linalg.norm(np.subtract(f.fdg_only_lesions[0].center_mm, FDG_ONLY[0])) < 4.0
    assert f.summary.netpet == "P5"
    assert f.summary.prrt_criterion_met is False and "P5" in f.summary.prrt_reason


def test_netpet_with_registration_when_frames_differ(sstr_pair):
    sstr, _, _ = sstr_pair
    shift = np.array([12.0, -8.0, 20.0])
    fdg, _ = _study(
        FDG_UPTAKE,
        [(c, d, f) for c, d, _, f in [*LESIONS, FDG_ONLY]],
        agent="18F-FDG",
        seed=13,
        affine_shift=shift,
        for_uid="5.6.7.8",
    )
    f = analyze(sstr, fdg=fdg)
    assert any("registration" in w for w in f.warnings)
    assert len(f.fdg_only_lesions) == 1
    # the FDG-only lesion is reported in the SSTR frame (registration undid the shift)
    assert np.linalg.norm(np.subtract(f.fdg_only_lesions[0].center_mm, FDG_ONLY[0])) < 6.0
    assert f.summary.netpet == "P5"


def test_fdg_study_alone_and_errors(sstr_pair):
    _, fdg, _ = sstr_pair
    f = analyze(fdg)
    assert f.study["agent_class"] == "fdg"
    assert f.summary.krenning_max is None and f.summary.prrt_criterion_met is None
    found = [
        np.linalg.norm(np.subtract(_nearest(f, c)[0].center_mm, c))
        for c, *_ in (LESIONS[1], FDG_ONLY)
    ]
    assert max(found) < 4.0
    with pytest.raises(NenscopeError, match="SSTR"):
        analyze(fdg, fdg=fdg)
    with pytest.raises(NenscopeError, match="--tracer"):
        analyze(fdg, options=AnalysisOptions(tracer="GIPR ligand"))  # preclinical: no reading
    # an agent without SSTR scores gets its own reading: lesions, no Krenning or PRRT
    mibg = analyze(fdg, options=AnalysisOptions(tracer="123I-MIBG"))
    assert mibg.study["agent_class"] == "mibg" and mibg.lesions
    assert all(les.krenning is None and les.sstr_rads is None for les in mibg.lesions)
    assert mibg.summary.prrt_criterion_met is None and "norepinephrine" in mibg.method["reading"]


def test_fdg_lesion_with_liver_level_sstr_uptake_is_not_fdg_only():
    """A liver metastasis with SSTR uptake equal to the liver's (Krenning 2) has no SSTR
    lesion, but SSTR expression: with FDG 12 (4.8 x FDG liver) it is NETPET P4, not P5."""
    liver_met = ((-110.0, -20.0, 50.0), 26.0, SSTR_UPTAKE["liver"], 12.0)
    lesions = [LESIONS[0], liver_met]
    sstr, _ = _study(
        SSTR_UPTAKE, [(c, d, s) for c, d, s, _ in lesions], agent="68Ga-DOTATATE", seed=21
    )
    fdg, _ = _study(FDG_UPTAKE, [(c, d, f) for c, d, _, f in lesions], agent="18F-FDG", seed=22)
    f = analyze(sstr, fdg=fdg)
    assert all(np.linalg.norm(np.subtract(les.center_mm, liver_met[0])) > 10 for les in f.lesions)
    assert f.fdg_only_lesions == []
    assert any("not FDG-only" in w and "NETPET P4" in w for w in f.warnings)
    assert f.summary.netpet == "P4"
