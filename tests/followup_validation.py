"""Virtual patient pairs with known changes, compared and scored against their truth.

Used by ``tests/test_followup_validation.py`` (CI: pairs 0 and 3) and, for the full run of
docs/followup.md, ``bench/validate_followup_test.py`` (``NENSCOPE_FOLLOWUP_N`` pairs, default
20) or ``python tests/followup_validation.py 20``; ``python tests/followup_validation.py
--lesions K`` prints pair ``K`` lesion by lesion (true and measured volumes at both time
points), which is how a tumour-volume miss is traced to its lesion.

Pair ``k``: seed 500 + k, 6 prior lesions (G1 and G2 alternating), five scenarios by k % 5:
0 response (lesions shrink to 10-30 % of their volume or disappear, nothing new), 2 stable
(every lesion within -20 %/+25 % of its volume, nothing new), 3 progression (volume x 2-3,
one new lesion), 1 and 4 the simulator's default fates (grow 30 %, shrink 30 %, disappear
15 %) with two new lesions; one split in pairs 1, 4, 7. The patient
is shifted by up to 20 mm (x, y) and 40 mm (z), rotated by up to 2 degrees (x, y) and
5 degrees (z), the liver and spleen sit 5-15 mm further caudal (breathing), and the lesions
have a -40 HU CT correlate (RECIST truth).

The analysis lesions are tied to the truth through the simulator's lesion label map (a
detected lesion is the truth lesion it overlaps most). The figures of issue 23:

- pairing: truth lesions >= 10 mm present in both studies (not split) and detected in both,
  whose two detections form one "paired" entry;
- new lesions: truth new lesions whose detection is a "new" entry (undetected ones count as
  missed);
- tumour-volume change: the comparison's partial-volume-corrected tumour-volume change
  against the truth's (true sphere volumes of the SSTR-visible lesions: Krenning >= 2, less
  liver lesions with exactly liver uptake), |measured - true| in percentage points, and as
  the ratio of the volume ratios (current / prior) within 15 %; the segmented SSTR-TV change
  is scored too;
- response: the SSTR tumour-volume category from the measured numbers against the same
  criterion on the truth; RECIST on the CT long axes against RECIST on the true diameters.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from nenscope.analysis import AnalysisOptions, analyze  # noqa: E402
from nenscope.followup import CompareOptions, PairComparison, StudySide, compare_pair  # noqa: E402
from nenscope.followup.assess import recist_response, sstr_responses  # noqa: E402
from nenscope.followup.changes import corrected_volume_ml  # noqa: E402
from nenscope.followup.criteria import sstr_volume  # noqa: E402
from nenscope.simulation.followup import FollowupConfig, FollowupPair  # noqa: E402
from nenscope.simulation.study import SimulationConfig  # noqa: E402
from test_analysis_cohort import sim_to_study, simulator_profile  # noqa: E402

CT_CONTRAST_HU = -40.0


def pair_configs(k: int, voxel_mm: float = 4.0) -> tuple[SimulationConfig, FollowupConfig]:
    """The simulation and follow-up configuration of validation pair ``k``."""
    rng = np.random.default_rng(9000 + k)
    sim = SimulationConfig(
        seed=500 + k, n_lesions=6, tumour_type=("G1", "G2")[k % 2], voxel_mm=voxel_mm
    )
    scenario = k % 5
    if scenario == 0:  # response: lesions shrink or disappear, nothing new
        rates = dict(p_disappear=0.3, p_grow=0.0, p_shrink=0.6, shrink_volume_factor=(0.1, 0.3))
    elif scenario == 2:  # stable disease: every lesion within -20 % / +25 % of its volume
        rates = dict(p_disappear=0.0, p_grow=0.0, p_shrink=0.0, stable_volume_factor=(0.8, 1.25))
    elif scenario == 3:  # progression by growth, and one new lesion
        rates = dict(
            p_disappear=0.0, p_grow=0.9, p_shrink=0.0, grow_volume_factor=(2.0, 3.0), n_new=1
        )
    else:  # mixed fates and two new lesions
        rates = dict(n_new=2)
    fu = FollowupConfig(
        seed=k,
        n_split=1 if k % 3 == 1 else 0,
        shift_mm=tuple(float(v) for v in rng.uniform(-1, 1, 3) * (20.0, 20.0, 40.0)),
        rotation_deg=tuple(float(v) for v in rng.uniform(-1, 1, 3) * (2.0, 2.0, 5.0)),
        breathing_mm=float(rng.uniform(5.0, 15.0)),
        lesion_ct_contrast_hu=CT_CONTRAST_HU,
        **({"n_new": 0} | rates),
    )
    return sim, fu


@functools.cache
def _scanner():
    return simulator_profile()


def side_from_sim(sim, name: str) -> StudySide:
    """Analyse a simulated study in memory (no DICOM round trip) as a comparison side, as a
    site that calibrated its scanner does (``nenscope calibrate`` on the simulator's NEMA IEC
    phantom): the corrected lesion volumes need the scanner's resolution."""
    study = sim_to_study(sim)
    findings = analyze(study, options=AnalysisOptions(scanner=_scanner()))
    return StudySide(
        name=name,
        findings=findings.to_dict(),
        labels=findings.labels.with_array(np.asarray(findings.labels.array).astype(np.int32)),
        suv=study.suv("bw"),
        ct=study.ct,
        sul_per_suv=None,
        study_path=Path(name),
        analysis_dir=Path(name),
    )


def visible(les: dict) -> bool:
    """SSTR-visible truth lesion: uptake at least about liver, and above it in the liver."""
    return les["krenning_true"] >= 2 and not (les["site"] == "liver" and les["krenning_true"] == 2)


def detections(side: StudySide, truth_labels: np.ndarray) -> dict[int, int]:
    """Truth lesion id -> detected lesion id (the detection overlapping it most)."""
    lab = np.asarray(side.labels.array)
    both = (lab > 0) & (truth_labels > 0)
    best: dict[int, tuple[int, int]] = {}
    pairs, counts = np.unique(np.stack([truth_labels[both], lab[both]]), axis=1, return_counts=True)
    for (t, d), n in zip(pairs.T, counts, strict=True):
        if n > best.get(int(t), (0, 0))[1]:
            best[int(t)] = (int(d), int(n))
    return {t: d for t, (d, _) in best.items()}


@dataclass
class PairScore:
    """What one pair scored."""

    k: int
    n_pairable: int = 0
    n_paired_correctly: int = 0
    n_new_true: int = 0
    n_new_found: int = 0
    tv_change_true_pct: float = float("nan")
    tv_change_measured_pct: float = float("nan")
    tv_change_pvc_pct: float = float("nan")
    response_true: str | None = None
    response_measured: str | None = None
    recist_true: str | None = None
    recist_measured: str | None = None
    registration: str = ""
    notes: list[str] = field(default_factory=list)
    lesions: list[dict] = field(default_factory=list, repr=False)  # :func:`lesion_rows`
    tv_pvc_ml: tuple[float, float] = (float("nan"), float("nan"))  # measured, prior / current

    @property
    def tv_error_pp(self) -> float:
        return abs(self.tv_change_measured_pct - self.tv_change_true_pct)

    @property
    def tv_pvc_error_pp(self) -> float:
        return abs(self.tv_change_pvc_pct - self.tv_change_true_pct)

    @property
    def tv_ratio_error(self) -> float:
        """|measured / true - 1| of the volume ratios (current / prior)."""
        return abs((100.0 + self.tv_change_pvc_pct) / (100.0 + self.tv_change_true_pct) - 1.0)


def _true_tv(entries: list[dict], key: str) -> float:
    vols = []
    for e in entries:
        les = [e["prior"]] if key == "prior" else e["current"]
        vols += [x["volume_ml"] for x in les if x is not None and visible(x)]
    return float(sum(vols))


def _truth_recist(pair: FollowupPair) -> str | None:
    """RECIST 1.1 on the true diameters (spheres: long axis = diameter) of the visible
    lesions, with the same target selection."""
    from nenscope.followup.criteria import RecistTarget, recist, select_recist_targets

    rows = [e for e in pair.truth["lesions"] if e["prior"] is not None and visible(e["prior"])]
    chosen = select_recist_targets(
        [e["prior"]["diameter_mm"] for e in rows], [e["prior"]["site"] for e in rows]
    )
    targets = [
        RecistTarget(
            rows[i]["prior"]["site"],
            rows[i]["prior"]["diameter_mm"],
            sum(c["diameter_mm"] for c in rows[i]["current"]),
        )
        for i in chosen
    ]
    n_new = sum(e["status"] == "new" and visible(e["current"][0]) for e in pair.truth["lesions"])
    return recist(targets, n_new).category


def score_pair(k: int, pair: FollowupPair, options: CompareOptions | None = None) -> PairScore:
    """Analyse, compare and score virtual pair ``k``."""
    prior = side_from_sim(pair.prior, "prior")
    current = side_from_sim(pair.current, "current")
    comp = compare_pair(current, prior, options or CompareOptions(diagnostic_ct=True))
    det_p = detections(prior, np.asarray(pair.prior.lesion_labels.array))
    det_c = detections(current, np.asarray(pair.current.lesion_labels.array))
    s = PairScore(k=k, registration=comp.registration.method)
    by_current = {c: m for m in comp.matches for c in m.current_ids}
    for e in pair.truth["lesions"]:
        if e["status"] == "paired":
            p, c = e["prior"], e["current"][0]
            if (
                min(p["diameter_mm"], c["diameter_mm"]) < 10
                or p["id"] not in det_p
                or c["id"] not in det_c
            ):
                continue
            s.n_pairable += 1
            m = by_current.get(det_c[c["id"]])
            ok = m is not None and m.status == "paired" and m.prior_ids == (det_p[p["id"]],)
            s.n_paired_correctly += ok
            if not ok:
                s.notes.append(f"lesion {p['id']} ({p['site']}): {m}")
        elif e["status"] == "new":
            c = e["current"][0]
            s.n_new_true += 1
            m = by_current.get(det_c.get(c["id"], -1))
            found = m is not None and m.status == "new"
            s.n_new_found += found
            if not found:
                s.notes.append(f"new lesion {c['id']} ({c['site']}, {c['diameter_mm']} mm): {m}")
    tv_p, tv_c = (
        _true_tv(pair.truth["lesions"], "prior"),
        _true_tv(pair.truth["lesions"], "current"),
    )
    s.tv_change_true_pct = 100.0 * (tv_c - tv_p) / tv_p
    s.tv_change_measured_pct = float(comp.totals["sstr_tv_change_pct"])
    s.tv_change_pvc_pct = float(comp.totals["tumour_volume_pvc_change_pct"])
    n_new_visible = sum(
        e["status"] == "new" and visible(e["current"][0]) for e in pair.truth["lesions"]
    )
    s.response_true = sstr_volume(tv_p, tv_c, n_new_visible).category
    s.response_measured = sstr_responses(comp)[0].category
    s.recist_true = _truth_recist(pair)
    s.recist_measured = recist_response(comp, diagnostic_ct=True).category
    s.lesions = lesion_rows(pair, comp)
    s.tv_pvc_ml = (
        float(comp.totals["tumour_volume_pvc_ml_prior"]),
        float(comp.totals["tumour_volume_pvc_ml_current"]),
    )
    return s


def run_pair(k: int, voxel_mm: float = 4.0) -> PairScore:
    """Simulate (once per test run: :func:`conftest.cached_followup`) and score pair ``k``."""
    from conftest import cached_followup

    sim, fu = pair_configs(k, voxel_mm)
    return score_pair(k, cached_followup(sim, fu))


def summarize(scores: list[PairScore]) -> dict[str, float]:
    """The issue's figures over all pairs."""
    n = len(scores)
    pairable = sum(s.n_pairable for s in scores)
    new = sum(s.n_new_true for s in scores)
    return {
        "pairs": n,
        "lesions_pairable": pairable,
        "paired_correctly": sum(s.n_paired_correctly for s in scores) / max(pairable, 1),
        "new_lesions": new,
        "new_found": sum(s.n_new_found for s in scores) / max(new, 1),
        "tv_within_15pp": sum(s.tv_pvc_error_pp <= 15.0 for s in scores) / n,
        "tv_error_pp_max": max(s.tv_pvc_error_pp for s in scores),
        "tv_ratio_within_15pct": sum(s.tv_ratio_error <= 0.15 for s in scores) / n,
        "tv_segmented_within_15pp": sum(s.tv_error_pp <= 15.0 for s in scores) / n,
        "tv_segmented_error_pp_max": max(s.tv_error_pp for s in scores),
        "response_agreement": sum(s.response_measured == s.response_true for s in scores) / n,
        "recist_agreement": sum(s.recist_measured == s.recist_true for s in scores) / n,
    }


def table(scores: list[PairScore]) -> str:
    """One line per pair (for docs/followup.md)."""
    lines = [
        "| pair | paired ok | new found | TV change (%) true / segmented / corrected "
        "| SSTR-TV true / measured | RECIST true / measured | registration |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        lines.append(
            f"| {s.k} | {s.n_paired_correctly}/{s.n_pairable} | {s.n_new_found}/{s.n_new_true} "
            f"| {s.tv_change_true_pct:+.0f} / {s.tv_change_measured_pct:+.0f} / "
            f"{s.tv_change_pvc_pct:+.0f} "
            f"| {s.response_true} / {s.response_measured} | {s.recist_true} / "
            f"{s.recist_measured} | {s.registration} |"
        )
    return "\n".join(lines)


def lesion_rows(pair: FollowupPair, comp: PairComparison) -> list[dict]:
    """Per truth lesion and time point: the true size and the analysis' measurement.

    One row per truth lesion present at a time point (a split lesion: one row per half):
    ``side`` ("prior" or "current"), ``fate`` (the truth's status), ``truth_id``, ``site``,
    ``diameter_mm``, ``volume_ml`` and ``krenning`` (true), ``visible`` (counted in the true
    tumour volume), ``lesion_id`` (the detection overlapping it most, ``None`` if missed),
    ``volume_seg_ml`` (segmented), ``volume_pvc_ml`` (the comparison's corrected volume,
    :func:`nenscope.followup.changes.corrected_volume_ml`), ``entry`` (the status of the
    comparison entry holding the detection) and ``counted`` (that entry is counted in the
    corrected tumour volume: not an unconfirmed new or disappeared lesion).
    """
    sides = (("prior", pair.prior, comp.prior), ("current", pair.current, comp.current))
    rows = []
    for name, sim, side in sides:
        found = detections(side, np.asarray(sim.lesion_labels.array))
        ids = "prior_ids" if name == "prior" else "current_ids"
        entry_of = {
            i: (m.status, entry["confirmed"])
            for m, entry in zip(comp.matches, comp.entries, strict=True)
            for i in getattr(m, ids)
        }
        for e in pair.truth["lesions"]:
            for t in [e["prior"]] if name == "prior" else e["current"]:
                if t is None:
                    continue
                det = found.get(t["id"])
                les = side.lesions.get(det) if det is not None else None
                rows.append(
                    {
                        "side": name,
                        "fate": e["status"],
                        "truth_id": t["id"],
                        "site": t["site"],
                        "diameter_mm": t["diameter_mm"],
                        "volume_ml": t["volume_ml"],
                        "krenning": t["krenning_true"],
                        "visible": visible(t),
                        "lesion_id": det,
                        "volume_seg_ml": les["volume_ml"] if les else None,
                        "volume_pvc_ml": corrected_volume_ml(les) if les else None,
                        "entry": entry_of.get(det, (None, False))[0],
                        "counted": entry_of.get(det, (None, False))[1],
                    }
                )
    return rows


def lesion_table(k: int, voxel_mm: float = 4.0) -> str:
    """Pair ``k`` lesion by lesion (:func:`lesion_rows`), for tracing a tumour-volume miss."""
    s = run_pair(k, voxel_mm)
    lines = [
        f"pair {k}: corrected tumour volume {s.tv_pvc_ml[0]:.2f} -> {s.tv_pvc_ml[1]:.2f} ml "
        f"({s.tv_change_pvc_pct:+.0f} %; true {s.tv_change_true_pct:+.0f} %)",
        "side    fate        id site          d mm  true ml K vis  det   seg ml  pvc ml entry",
    ]
    for r in s.lesions:
        seg, pvc = r["volume_seg_ml"], r["volume_pvc_ml"]
        lines.append(
            f"{r['side']:<7} {r['fate']:<11} {r['truth_id']:>2} {r['site']:<12} "
            f"{r['diameter_mm']:5.1f} {r['volume_ml']:8.2f} {r['krenning']} "
            f"{'yes' if r['visible'] else 'no ':<4} {str(r['lesion_id']):>4} "
            f"{'-' if seg is None else f'{seg:.2f}':>8} {'-' if pvc is None else f'{pvc:.2f}':>7} "
            f"{r['entry'] or '-'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Score the virtual follow-up pairs (issue 23).")
    parser.add_argument("n_pairs", nargs="?", type=int, default=10, help="pairs 0..N-1")
    parser.add_argument(
        "--lesions", type=int, metavar="K", help="print pair K lesion by lesion instead"
    )
    args = parser.parse_args()
    if args.lesions is not None:
        print(lesion_table(args.lesions))
        sys.exit(0)
    results = []
    for k in range(args.n_pairs):
        t0 = time.perf_counter()
        results.append(run_pair(k))
        print(f"pair {k}: {time.perf_counter() - t0:.0f} s {results[-1]}", flush=True)
    print(table(results))
    print(summarize(results))
