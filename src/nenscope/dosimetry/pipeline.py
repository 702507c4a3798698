"""The dosimetry pipeline: time-activity data → kinetics → absorbed dose → BED → result record.

Two entry points, both returning a :class:`DosimetryResult`:

* :func:`dosimetry_from_tacs` — regional time-activity curves (from ``--tac-csv`` or measured
  on images): organ S-values (organs), sphere model (tumours), or single time point.
* :func:`dosimetry_from_images` — co-registered quantitative SPECT maps (Bq/ml) on one grid and
  region masks: regional TACs and fits as above, plus voxel dose maps by kernel convolution
  or local deposition, and DVHs.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nenscope.dosimetry import kinetics, radiobiology, svalues, voxel
from nenscope.dosimetry.dvh import DVH, dvh
from nenscope.dosimetry.marrow import MarrowDose
from nenscope.dosimetry.sphere import sphere_dose_gy
from nenscope.dosimetry.uncertainty import RegionUncertainty
from nenscope.errors import NenscopeError

METHODS = ("organ", "voxel", "local", "single-time-point")
STP_WINDOW_H = (72.0, 96.0)  # Hänscheid et al. 2018: best single time point for 177Lu


@dataclass
class RegionTAC:
    """One region's measured time-activity curve (times in h p.i., activity in MBq, mass in g)."""

    name: str
    times_h: list[float]
    activity_mbq: list[float]
    mass_g: float | None = None


@dataclass
class RegionResult:
    """Dosimetry of one region (one row of ``dosimetry.json``)."""

    name: str
    kind: str  # organ | tumour
    mass_g: float | None
    fit: kinetics.KineticFit
    dose_gy: float
    bed_gy: float
    dose_gy_per_gbq: float | None
    dose_method: str
    s_value_tables: tuple[str, ...] = ()
    self_gy: float | None = None
    cross_gy: float | None = None
    cumulative_dose_gy: float | None = None
    cumulative_bed_gy: float | None = None
    uncertainty: RegionUncertainty | None = None

    def _dose_std_gy(self) -> float | None:
        """1 SD of the dose: the propagated one (EANM) when computed, else the fit's alone."""
        if self.uncertainty is not None:
            return self.uncertainty.dose_std_gy
        if self.dose_method == "none" or "voxel" in self.dose_method or "local" in self.dose_method:
            return None
        return self.dose_gy * self.fit.tia_std_mbq_h / self.fit.tia_mbq_h

    def to_dict(self) -> dict:
        """The JSON row (keys with units)."""
        f = self.fit
        u = self.uncertainty
        return {
            "name": self.name,
            "kind": self.kind,
            "mass_g": _r(self.mass_g),
            "fit_model": f.model,
            "t_eff_h": _r(f.t_eff_h),
            "tia_mbq_h": _r(f.tia_mbq_h),
            "tia_std_mbq_h": _r(f.tia_std_mbq_h if u is None else u.tia_std_mbq_h),
            "dose_gy": _r(self.dose_gy),
            "dose_std_gy": _r(self._dose_std_gy()),
            "dose_gy_per_gbq": _r(self.dose_gy_per_gbq),
            "bed_gy": _r(self.bed_gy),
            "bed_std_gy": None if u is None else _r(u.bed_std_gy),
            "uncertainty_budget": None if u is None else {k: _r(v) for k, v in u.budget.items()},
            "dose_method": self.dose_method,
            "s_value_tables": list(self.s_value_tables),
            "self_gy": _r(self.self_gy),
            "cross_gy": _r(self.cross_gy),
            "cumulative_dose_gy": _r(self.cumulative_dose_gy),
            "cumulative_bed_gy": _r(self.cumulative_bed_gy),
            "fit_params": {k: _r(v) for k, v in f.params.items()},
            "fit_aic": {k: _r(v) for k, v in f.candidates.items()},
            "times_h": list(f.times_h),
            "activity_mbq": [_r(a) for a in f.activity_mbq],
        }


@dataclass
class DosimetryResult:
    """Everything one dosimetry run produced.

    regions: per-region results; warnings: limit and method warnings; method, sex,
    injected_gbq: the run's settings; dose_map_gy: voxel dose (Gy) on the reference grid for
    the voxel/local methods; dvhs: per region; spacing_mm: voxel size of the dose map;
    marrow, projection, plan_comparison: set by :mod:`nenscope.dosimetry.assessment`;
    notes: how the run was made (e.g. the automatic regions' delineation time points).
    """

    regions: list[RegionResult]
    warnings: list[str]
    method: str
    sex: str
    injected_gbq: float | None
    dose_map_gy: np.ndarray | None = None
    dvhs: dict[str, DVH] = field(default_factory=dict)
    spacing_mm: tuple[float, float, float] | None = None
    marrow: MarrowDose | None = None
    projection: dict | None = None
    plan_comparison: list[dict] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The ``dosimetry.json`` document."""
        return {
            "method": self.method,
            "sex": self.sex,
            "injected_gbq": _r(self.injected_gbq),
            "regions": [r.to_dict() for r in self.regions],
            "dvh": {
                k: {
                    "mean_gy": _r(d.mean_gy),
                    "d2_gy": _r(d.d2_gy),
                    "d50_gy": _r(d.d50_gy),
                    "d98_gy": _r(d.d98_gy),
                    "volume_ml": _r(d.volume_ml),
                }
                for k, d in self.dvhs.items()
            },
            "marrow": None if self.marrow is None else self.marrow.to_dict(),
            "projection": self.projection,
            "plan_comparison": self.plan_comparison,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


def _r(v: float | None, nd: int = 6) -> float | None:
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{nd}g}")


def read_tac_csv(path: str | Path) -> list[RegionTAC]:
    """Read a ``region,time_h,activity_mbq[,mass_g]`` table (one row per region and time)."""
    p = Path(path)
    if not p.is_file():
        raise NenscopeError(f"TAC table {p} not found (option --tac-csv)")
    regions: dict[str, RegionTAC] = {}
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # Latin-1 tables from older spreadsheets: every byte decodes
        text = raw.decode("latin-1")
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"region", "time_h", "activity_mbq"}
        if not reader.fieldnames or not need <= {f.strip() for f in reader.fieldnames}:
            raise NenscopeError(
                f"{p}: header must hold region,time_h,activity_mbq[,mass_g], got {reader.fieldnames}"
            )
        for i, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                name = row["region"]
                t = float(row["time_h"])
                a = float(row["activity_mbq"])
                m = float(row["mass_g"]) if row.get("mass_g") else None
            except (ValueError, KeyError) as exc:
                raise NenscopeError(f"{p} line {i}: {exc}") from exc
            tac = regions.setdefault(name, RegionTAC(name, [], [], None))
            tac.times_h.append(t)
            tac.activity_mbq.append(a)
            if m is not None:
                tac.mass_g = m
    if not regions:
        raise NenscopeError(f"{p}: no data rows")
    return list(regions.values())


def _stp_index(times_h: Sequence[float], stp_time_h: float | None) -> int:
    t = np.asarray(times_h, dtype=float)
    if stp_time_h is not None:
        i = int(np.argmin(np.abs(t - stp_time_h)))
    else:
        lo, hi = STP_WINDOW_H
        dist = np.where(t < lo, lo - t, np.where(t > hi, t - hi, 0.0))
        i = int(np.argmin(dist))
    return i


def fit_region(
    tac: RegionTAC,
    *,
    method: str,
    kinetics_model: str = "auto",
    stp_time_h: float | None = None,
) -> kinetics.KineticFit:
    """Kinetics of one region: AIC-chosen fit, a named model, trapezoid, or single time point."""
    if method == "single-time-point":
        i = _stp_index(tac.times_h, stp_time_h)
        return kinetics.tia_single_time_point(tac.times_h[i], tac.activity_mbq[i])
    n = len(tac.times_h)
    if kinetics_model == "trapezoid":
        return kinetics.tia_trapezoid(tac.times_h, tac.activity_mbq, tail="exp")
    if kinetics_model != "auto":
        return kinetics.fit_model(tac.times_h, tac.activity_mbq, kinetics_model)
    if n == 1:
        return kinetics.tia_single_time_point(tac.times_h[0], tac.activity_mbq[0])
    try:
        return kinetics.fit_best(tac.times_h, tac.activity_mbq)
    except NenscopeError:
        return kinetics.tia_trapezoid(tac.times_h, tac.activity_mbq, tail="exp")


#: Largest region activity (MBq) and mass (g), and administered activity (GBq), accepted:
#: beyond any PRRT cycle or patient (typing errors, a wrong unit).
MAX_REGION_ACTIVITY_MBQ = 1e5
MAX_REGION_MASS_G = 5e5
MAX_INJECTED_GBQ = 100.0


def check_tacs(tacs: Sequence[RegionTAC], injected_gbq: float | None) -> None:
    """Inputs checked by meaning: times after administration, activities positive, finite and
    below :data:`MAX_REGION_ACTIVITY_MBQ`, masses positive and below
    :data:`MAX_REGION_MASS_G`, the administered activity positive and below
    :data:`MAX_INJECTED_GBQ`; each error names the region and the value."""
    if injected_gbq is not None and not (
        math.isfinite(injected_gbq) and 0 < injected_gbq <= MAX_INJECTED_GBQ
    ):
        raise NenscopeError(
            f"administered activity {injected_gbq:g} GBq (--injected-gbq) must be above 0 and "
            f"at most {MAX_INJECTED_GBQ:g} GBq"
        )
    for t in tacs:
        bad_t = [x for x in t.times_h if not (math.isfinite(x) and x > 0)]
        if bad_t:
            raise NenscopeError(
                f"{t.name}: time {bad_t[0]:g} h must be finite and after administration"
            )
        bad_a = [
            a for a in t.activity_mbq if not (math.isfinite(a) and 0 < a <= MAX_REGION_ACTIVITY_MBQ)
        ]
        if bad_a:
            raise NenscopeError(
                f"{t.name}: activity {bad_a[0]:g} MBq must be finite, above 0 and at most "
                f"{MAX_REGION_ACTIVITY_MBQ:g} MBq"
            )
        if t.mass_g is not None and not (
            math.isfinite(t.mass_g) and 0 < t.mass_g <= MAX_REGION_MASS_G
        ):
            raise NenscopeError(
                f"{t.name}: mass {t.mass_g:g} g must be above 0 and at most {MAX_REGION_MASS_G:g} g"
            )


def _fallback_note(tac: RegionTAC, fit: kinetics.KineticFit, method: str, model: str) -> str | None:
    """A warning when ``auto`` kinetics fell back to a simpler model than a fitted curve."""
    if method == "single-time-point" or model != "auto":
        return None
    n = len(tac.times_h)
    if fit.model == "single-time-point":
        return (
            f"{tac.name}: one time point: single-time-point kinetics (Hänscheid) instead of "
            "a fitted curve"
        )
    if fit.model == "trapezoid":
        why = f"{n} time points are too few" if n < 3 else "no exponential model could be fitted"
        return f"{tac.name}: {why} for a fitted curve: trapezoid with a physical-decay tail"
    return None


def _bed(name: str, dose: float, fit: kinetics.KineticFit) -> float:
    tissue = svalues.tissue_of(name)
    p = radiobiology.tissue_parameters(tissue)
    if fit.model in kinetics.MODELS:
        # the dose rate follows the fitted activity curve: exact Lea-Catcheside factor
        t_max = 20.0 * max(fit.t_eff_h, 1.0)
        return radiobiology.bed_from_curve(dose, fit.predict, tissue=tissue, t_max_h=t_max)
    return float(
        radiobiology.bed_gy(
            dose,
            fit.t_eff_h,
            alpha_beta_gy=p.alpha_beta_gy,
            repair_half_time_h=p.repair_half_time_h,
        )
    )


def dosimetry_from_tacs(
    tacs: Sequence[RegionTAC],
    *,
    sex: str = "M",
    injected_gbq: float | None = None,
    method: str = "organ",
    kinetics_model: str = "auto",
    stp_time_h: float | None = None,
    previous: Sequence[radiobiology.CycleDose] = (),
    risk_factors: bool = False,
    voxel_doses_gy: dict[str, float] | None = None,
    dose_method_name: str | None = None,
) -> DosimetryResult:
    """Organ/tumour dosimetry from regional TACs.

    Args:
        tacs: regions with times (h p.i.), activities (MBq) and optional masses (g).
        sex: ``M``/``F`` for the phantom S-values.
        injected_gbq: administered activity (GBq) for Gy/GBq.
        method: ``organ`` or ``single-time-point`` (for the kinetics; dose by S-values).
        kinetics_model: ``auto`` (AIC), a model name of :data:`kinetics.MODELS`, or
            ``trapezoid``.
        stp_time_h: time point for the single-time-point method (default: the one nearest
            72–96 h).
        previous: earlier cycles for cumulative dose/BED.
        risk_factors: use the 28 Gy kidney BED limit instead of 40 Gy.
        voxel_doses_gy: region → mean voxel dose; replaces the S-value dose (voxel methods).
    """
    if method not in METHODS:
        raise NenscopeError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    check_tacs(tacs, injected_gbq)
    fits = {
        t.name: fit_region(t, method=method, kinetics_model=kinetics_model, stp_time_h=stp_time_h)
        for t in tacs
    }
    masses = {t.name: t.mass_g for t in tacs}
    tia = {n: f.tia_mbq_h for n, f in fits.items()}
    organ = svalues.organ_doses(tia, sex=sex, masses_g=masses)
    warnings: list[str] = [
        note
        for t in tacs
        if (note := _fallback_note(t, fits[t.name], method, kinetics_model)) is not None
    ]
    results: list[RegionResult] = []
    for t in tacs:
        fit = fits[t.name]
        kind = svalues.region_kind(t.name)
        self_gy = cross_gy = None
        tables: tuple[str, ...] = ()
        if voxel_doses_gy is not None and t.name in voxel_doses_gy:
            dose = voxel_doses_gy[t.name]
            how = dose_method_name or "voxel"
        elif kind == "organ" and t.name in organ:
            od = organ[t.name]
            dose, self_gy, cross_gy, tables = od.dose_gy, od.self_gy, od.cross_gy, od.tables
            how = "organ S-values" + (" (mass-scaled)" if t.mass_g else " (phantom mass)")
        elif kind == "tumour":
            if not t.mass_g:
                warnings.append(f"{t.name}: no mass, so no sphere-model dose (add mass_g)")
                dose, how = math.nan, "none"
            else:
                dose, how = sphere_dose_gy(fit.tia_mbq_h, t.mass_g), "sphere model"
        elif kind == "marrow_voi":
            dose, how = math.nan, "none (red-marrow VOI: see the red_marrow row)"
        else:
            dose, how = math.nan, "none"
            warnings.append(f"{t.name}: no S-value for this region; dose not computed")
        bed = _bed(t.name, dose, fit) if math.isfinite(dose) else math.nan
        results.append(
            RegionResult(
                name=t.name,
                kind=kind,
                mass_g=t.mass_g,
                fit=fit,
                dose_gy=dose,
                bed_gy=bed,
                dose_gy_per_gbq=dose / injected_gbq if injected_gbq else None,
                dose_method=how,
                s_value_tables=tables,
                self_gy=self_gy,
                cross_gy=cross_gy,
            )
        )
        if method == "single-time-point" and not (
            STP_WINDOW_H[0] - 1e-9 <= fit.times_h[0] <= STP_WINDOW_H[1] + 1e-9
        ):
            warnings.append(
                f"{t.name}: single time point at {fit.times_h[0]:g} h is outside the 72-96 h "
                "window where the Hänscheid approximation is validated"
            )
    current = {r.name: (r.dose_gy, r.bed_gy) for r in results if math.isfinite(r.dose_gy)}
    cum = radiobiology.cumulative(current, previous, svalues.tissue_of)
    for r in results:
        if r.name in cum:
            r.cumulative_dose_gy, r.cumulative_bed_gy = cum[r.name]
    warnings += radiobiology.limit_warnings(cum, svalues.tissue_of, risk_factors=risk_factors)
    return DosimetryResult(results, warnings, method, sex, injected_gbq)


def dosimetry_from_images(
    activity_bq_ml: Sequence[np.ndarray],
    times_h: Sequence[float],
    spacing_mm: tuple[float, float, float],
    masks: dict[str, np.ndarray],
    *,
    method: str = "voxel",
    sex: str = "M",
    injected_gbq: float | None = None,
    kinetics_model: str = "auto",
    stp_time_h: float | None = None,
    previous: Sequence[radiobiology.CycleDose] = (),
    risk_factors: bool = False,
    density_g_per_ml: float = 1.0,
    workers: int | None = None,
    tacs: Sequence[RegionTAC] | None = None,
    psf_fwhm_mm: float | None = None,
) -> DosimetryResult:
    """Dosimetry from co-registered activity maps (Bq/ml at acquisition) and region masks.

    Regional TACs are the activity summed in each mask; region masses are the mask volume ×
    ``density_g_per_ml`` (unit density unless told). For ``voxel`` and ``local`` a TIA map
    (:func:`voxel.tia_map_mbq_s`) is turned into a dose map and each region's dose is its mean
    voxel dose; ``organ`` and ``single-time-point`` use the regional fits and S-values.
    ``tacs`` (e.g. measured with masks drawn on every time point) replaces the TACs measured
    here with ``masks``. With ``psf_fwhm_mm`` the regional activities are corrected for partial
    volume effects by the geometric transfer matrix (:mod:`nenscope.dosimetry.pvc`).
    """
    if method not in METHODS:
        raise NenscopeError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not masks:
        raise NenscopeError("image-based dosimetry needs at least one region mask (option --masks)")
    shape = activity_bq_ml[0].shape
    vox_ml = float(np.prod(spacing_mm)) / 1000.0
    gtm = gtm_c = None
    if psf_fwhm_mm and tacs is None:
        from nenscope.dosimetry.pvc import GeometricTransferMatrix

        gtm = GeometricTransferMatrix(masks, spacing_mm, psf_fwhm_mm)
        gtm_c = [gtm.correct(np.asarray(a)) for a in activity_bq_ml]
    own_tacs = []
    for name, m in masks.items():
        if m.shape != shape:
            raise NenscopeError(f"mask {name!r} {m.shape} is not on the image grid {shape}")
        mb = np.asarray(m, dtype=bool)
        if not mb.any():
            raise NenscopeError(f"mask {name!r} is empty")
        if gtm is not None:
            act = [
                gtm_c[i][name] * float(mb.sum()) * vox_ml * 1e-6 for i in range(len(activity_bq_ml))
            ]
        else:
            act = [float(a[mb].sum(dtype=np.float64)) * vox_ml * 1e-6 for a in activity_bq_ml]
        own_tacs.append(
            RegionTAC(
                name, list(map(float, times_h)), act, float(mb.sum() * vox_ml * density_g_per_ml)
            )
        )
    tacs = list(tacs) if tacs is not None else own_tacs
    dose_map = None
    voxel_doses = None
    dvhs: dict[str, DVH] = {}
    if method in ("voxel", "local"):
        tia = voxel.tia_map_mbq_s(activity_bq_ml, times_h, spacing_mm)
        if method == "voxel":
            dose_map = voxel.dose_kernel_gy(tia, spacing_mm, workers=workers)
        else:
            dose_map = voxel.dose_local_gy(tia, spacing_mm)
        if density_g_per_ml != 1.0:
            dose_map /= np.float32(density_g_per_ml)
        del tia
        voxel_doses = {}
        for name, m in masks.items():
            d = dvh(name, dose_map, m, spacing_mm)
            dvhs[name] = d
            voxel_doses[name] = d.mean_gy
    res = dosimetry_from_tacs(
        tacs,
        sex=sex,
        injected_gbq=injected_gbq,
        method="organ" if method in ("voxel", "local") else method,
        kinetics_model=kinetics_model,
        stp_time_h=stp_time_h,
        previous=previous,
        risk_factors=risk_factors,
        voxel_doses_gy=voxel_doses,
        dose_method_name={"voxel": "voxel S-value kernel", "local": "local deposition"}.get(method),
    )
    res.method = method
    res.dose_map_gy = dose_map
    res.dvhs = dvhs
    res.spacing_mm = tuple(float(s) for s in spacing_mm)
    return res
