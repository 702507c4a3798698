"""Time-activity curves: exponential fits, model choice by AIC, trapezoid and single time point.

Times are in hours after administration, activities in MBq, time-integrated activities (TIA)
in MBq·h. The physical decay of the radionuclide (177Lu unless told otherwise) bounds every
clearance rate from below: a tracer cannot leave an organ slower than it decays.

Models (λ are decay constants in 1/h, ``λ_phys`` the physical one):

=================  ============================================================  ==
name               A(t)                                                          k
=================  ============================================================  ==
``mono-exp``       A1·e^(−λ1·t)                                                  2
``mono-exp-uptake`` A1·(e^(−λ1·t) − e^(−λu·t)), λu > λ1                          3
``bi-exp``         A1·e^(−λ1·t) + A2·e^(−λ2·t), λ2 > λ1                          4
``tri-exp``        A1·e^(−λ1·t) + A2·e^(−λ2·t) − (A1+A2)·e^(−λu·t) (uptake)      5
=================  ============================================================  ==

Each is integrated analytically to infinity. The model is chosen by Akaike's information
criterion (AIC, corrected AICc when every candidate has n − k − 1 > 0), as recommended for
TAC fitting by Glatting G et al., Med Phys 2007;34:4285-4292 and Kletting P et al., Med Phys
2013;40:102504. Only models with fewer parameters than time points are tried.

References: MIRD Pamphlet No. 21 (Bolch WE et al., J Nucl Med 2009;50:477-484) for the TIA
definition; Hänscheid H et al., J Nucl Med 2018;59:75-81 for the single-time-point estimate
TIA ≈ A(t)·2t/ln 2; Madsen MT et al., Med Phys 2018;45:2318-2324 for the variant with a
population effective half-life.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import least_squares

from nenscope.dosimetry._data import lambda_phys_per_h
from nenscope.errors import NenscopeError

LN2 = math.log(2.0)
MODELS = ("mono-exp", "mono-exp-uptake", "bi-exp", "tri-exp")
_N_PARAMS = {"mono-exp": 2, "mono-exp-uptake": 3, "bi-exp": 4, "tri-exp": 5}


@dataclass(frozen=True)
class KineticFit:
    """A time-activity curve integrated by one method.

    Attributes:
        model: ``mono-exp`` … ``tri-exp``, ``trapezoid`` or ``single-time-point``.
        tia_mbq_h: time-integrated activity from 0 to infinity (MBq·h).
        tia_std_mbq_h: its 1-sigma uncertainty from the fit covariance (delta method), NaN
            when the data leave no degree of freedom.
        t_eff_h: effective half-life of the terminal (slowest) phase in hours.
        params: model parameters (amplitudes ``a*_mbq``, rates ``lambda*_per_h``).
        param_std: their 1-sigma uncertainties.
        aic: information criterion used for the choice (NaN if not a fit).
        candidates: AIC of every model tried (for the report).
        times_h, activity_mbq: the data the curve was made from.
    """

    model: str
    tia_mbq_h: float
    tia_std_mbq_h: float
    t_eff_h: float
    params: dict[str, float]
    param_std: dict[str, float] = field(default_factory=dict)
    aic: float = float("nan")
    candidates: dict[str, float] = field(default_factory=dict)
    times_h: tuple[float, ...] = ()
    activity_mbq: tuple[float, ...] = ()

    def predict(self, t_h: np.ndarray | float) -> np.ndarray:
        """Activity (MBq) of the fitted curve at times ``t_h`` (hours)."""
        t = np.asarray(t_h, dtype=float)
        if self.model in MODELS:
            return _model_fn(self.model)(t, self.params)
        if self.model == "trapezoid":
            return _trapezoid_curve(self, t)
        # single time point: the mono-exponential implied by the estimate
        lam = LN2 / self.t_eff_h
        return self.params["a0_mbq"] * np.exp(-lam * t)


def _model_fn(model: str) -> Callable[[np.ndarray, dict[str, float]], np.ndarray]:
    def mono(t, p):
        return p["a1_mbq"] * np.exp(-p["lambda1_per_h"] * t)

    def mono_up(t, p):
        return p["a1_mbq"] * (np.exp(-p["lambda1_per_h"] * t) - np.exp(-p["lambdau_per_h"] * t))

    def bi(t, p):
        return p["a1_mbq"] * np.exp(-p["lambda1_per_h"] * t) + p["a2_mbq"] * np.exp(
            -p["lambda2_per_h"] * t
        )

    def tri(t, p):
        return (
            p["a1_mbq"] * np.exp(-p["lambda1_per_h"] * t)
            + p["a2_mbq"] * np.exp(-p["lambda2_per_h"] * t)
            - (p["a1_mbq"] + p["a2_mbq"]) * np.exp(-p["lambdau_per_h"] * t)
        )

    return {"mono-exp": mono, "mono-exp-uptake": mono_up, "bi-exp": bi, "tri-exp": tri}[model]


def _unpack(model: str, x: np.ndarray, lam_phys: float) -> dict[str, float]:
    """Map unconstrained fit variables to parameters (amplitudes > 0, ordered rates ≥ λ_phys)."""
    e = np.exp(np.clip(x, -50.0, 50.0))
    if model == "mono-exp":
        return {"a1_mbq": e[0], "lambda1_per_h": lam_phys + e[1]}
    if model == "mono-exp-uptake":
        l1 = lam_phys + e[1]
        return {"a1_mbq": e[0], "lambda1_per_h": l1, "lambdau_per_h": l1 + e[2]}
    if model == "bi-exp":
        l1 = lam_phys + e[1]
        return {"a1_mbq": e[0], "lambda1_per_h": l1, "a2_mbq": e[2], "lambda2_per_h": l1 + e[3]}
    l1 = lam_phys + e[1]
    l2 = l1 + e[3]
    return {
        "a1_mbq": e[0],
        "lambda1_per_h": l1,
        "a2_mbq": e[2],
        "lambda2_per_h": l2,
        "lambdau_per_h": l2 + e[4],
    }


def _tia(model: str, p: dict[str, float]) -> float:
    """Analytic integral of the model from 0 to infinity (MBq·h)."""
    if model == "mono-exp":
        return p["a1_mbq"] / p["lambda1_per_h"]
    if model == "mono-exp-uptake":
        return p["a1_mbq"] * (1.0 / p["lambda1_per_h"] - 1.0 / p["lambdau_per_h"])
    if model == "bi-exp":
        return p["a1_mbq"] / p["lambda1_per_h"] + p["a2_mbq"] / p["lambda2_per_h"]
    return (
        p["a1_mbq"] / p["lambda1_per_h"]
        + p["a2_mbq"] / p["lambda2_per_h"]
        - (p["a1_mbq"] + p["a2_mbq"]) / p["lambdau_per_h"]
    )


def _starts(model: str, t: np.ndarray, y: np.ndarray, lam_phys: float) -> list[np.ndarray]:
    """A few starting points from a log-linear regression over the late points."""
    late = slice(max(0, len(t) - 3), len(t))
    slope = np.polyfit(t[late], np.log(y[late]), 1)[0] if len(t) >= 2 else -lam_phys
    lam = max(-slope, lam_phys * 1.05)
    a0 = float(np.exp(np.log(y[late]).mean() + lam * t[late].mean()))
    dl = math.log(max(lam - lam_phys, 1e-6))
    out = []
    for fast in (5.0, 20.0, 0.5):
        for scale in (1.0, 0.3):
            if model == "mono-exp":
                x = [math.log(a0 * scale), dl]
            elif model == "mono-exp-uptake":
                x = [math.log(a0), dl, math.log(lam * fast)]
            elif model == "bi-exp":
                x = [math.log(a0), dl, math.log(max(y[0], a0) * scale + 1e-9), math.log(lam * fast)]
            else:
                x = [
                    math.log(a0),
                    dl,
                    math.log(a0 * scale),
                    math.log(lam * fast),
                    math.log(lam * 10),
                ]
            out.append(np.asarray(x, dtype=float))
    return out


def fit_model(
    times_h: Sequence[float],
    activity_mbq: Sequence[float],
    model: str,
    *,
    sigma_mbq: Sequence[float] | None = None,
    nuclide: str = "Lu-177",
) -> KineticFit:
    """Least-squares fit of one exponential model; TIA with its uncertainty.

    Args:
        times_h: sampling times after administration (h), at least ``k + 1`` of them.
        activity_mbq: activities at those times (MBq), > 0.
        model: one of :data:`MODELS`.
        sigma_mbq: 1-sigma measurement errors (MBq); default a constant relative error
            (weights 1/A), the usual assumption for quantitative SPECT.
        nuclide: radionuclide whose physical decay bounds the clearance.
    """
    t, y = _check_tac(times_h, activity_mbq)
    k = _N_PARAMS[model]
    if len(t) < k + 1:
        raise NenscopeError(f"{model} needs at least {k + 1} time points, got {len(t)}")
    sig = np.asarray(sigma_mbq, dtype=float) if sigma_mbq is not None else y.copy()
    lam_phys = lambda_phys_per_h(nuclide)
    f = _model_fn(model)

    def resid(x):
        return (f(t, _unpack(model, x, lam_phys)) - y) / sig

    best = None
    for x0 in _starts(model, t, y, lam_phys):
        try:
            r = least_squares(resid, x0, method="trf", x_scale="jac", max_nfev=2000)
        except (ValueError, FloatingPointError):
            continue
        if best is None or r.cost < best.cost:
            best = r
    if best is None or not np.isfinite(best.cost):
        raise NenscopeError(f"{model} fit did not converge")
    p = _unpack(model, best.x, lam_phys)
    rss = float(2.0 * best.cost)
    n = len(t)
    dof = n - k
    tia = _tia(model, p)
    # covariance of the unconstrained variables, then the delta method for TIA and params
    tia_std = float("nan")
    p_std = {name: float("nan") for name in p}
    if dof > 0:
        s2 = rss / dof if sigma_mbq is None else 1.0
        jtj = best.jac.T @ best.jac
        try:
            cov = np.linalg.pinv(jtj) * s2
            h = 1e-6
            names = list(p)
            grad_tia = np.empty(k)
            grad_p = np.empty((len(names), k))
            for i in range(k):
                xp = best.x.copy()
                xp[i] += h
                pp = _unpack(model, xp, lam_phys)
                grad_tia[i] = (_tia(model, pp) - tia) / h
                grad_p[:, i] = [(pp[nm] - p[nm]) / h for nm in names]
            tia_std = float(np.sqrt(max(grad_tia @ cov @ grad_tia, 0.0)))
            pv = np.einsum("ik,kl,il->i", grad_p, cov, grad_p)
            p_std = {nm: float(np.sqrt(max(v, 0.0))) for nm, v in zip(names, pv, strict=True)}
        except np.linalg.LinAlgError:
            pass
    lam_term = p["lambda1_per_h"]
    return KineticFit(
        model=model,
        tia_mbq_h=float(tia),
        tia_std_mbq_h=tia_std,
        t_eff_h=LN2 / lam_term,
        params={k_: float(v) for k_, v in p.items()},
        param_std=p_std,
        aic=_aic(rss, n, k, corrected=False),
        times_h=tuple(t.tolist()),
        activity_mbq=tuple(y.tolist()),
    )


def _aic(rss: float, n: int, k: int, *, corrected: bool) -> float:
    rss = max(rss, n * 1e-18)  # perfect fits (noise-free data) must not give −inf
    aic = n * math.log(rss / n) + 2 * k
    if corrected:
        aic += 2 * k * (k + 1) / (n - k - 1)
    return aic


def fit_best(
    times_h: Sequence[float],
    activity_mbq: Sequence[float],
    *,
    models: Sequence[str] = MODELS,
    sigma_mbq: Sequence[float] | None = None,
    nuclide: str = "Lu-177",
) -> KineticFit:
    """Fit every admissible model and return the one with the lowest AIC (AICc when possible).

    A model is admissible when it leaves at least one degree of freedom (n > k). With two
    points only the mono-exponential is fitted (exactly).
    """
    t, y = _check_tac(times_h, activity_mbq)
    n = len(t)
    cands = [m for m in models if n > _N_PARAMS[m]]
    if not cands:
        if n == 2 and "mono-exp" in models:
            cands = ["mono-exp"]
        else:
            raise NenscopeError(f"too few time points ({n}) for the models {list(models)}")
    corrected = all(n - _N_PARAMS[m] - 1 > 0 for m in cands)
    fits: list[KineticFit] = []
    for m in cands:
        try:
            fits.append(fit_model(t, y, m, sigma_mbq=sigma_mbq, nuclide=nuclide))
        except NenscopeError:
            continue
    if not fits:
        raise NenscopeError("no exponential model could be fitted to the time-activity curve")
    scores = {}
    for fit in fits:
        w = np.asarray(fit.activity_mbq) if sigma_mbq is None else np.asarray(sigma_mbq)
        rss = float(np.sum(((fit.predict(t) - y) / w) ** 2))
        scores[fit.model] = _aic(rss, n, _N_PARAMS[fit.model], corrected=corrected)
    best = min(fits, key=lambda f: (round(scores[f.model], 9), _N_PARAMS[f.model]))
    return replace(best, aic=scores[best.model], candidates=scores)


def tia_trapezoid(
    times_h: Sequence[float],
    activity_mbq: Sequence[float],
    *,
    head: str = "constant",
    tail: str = "physical",
    nuclide: str = "Lu-177",
) -> KineticFit:
    """Trapezoidal TIA with a head before the first point and an exponential tail.

    Args:
        head: ``constant`` (A(0) = A(t1), suits organs with uptake done before the first
            image) or ``zero`` (linear rise from A(0) = 0).
        tail: ``physical`` (decay with the radionuclide's half-life after the last point,
            conservative, MIRD Pamphlet 21) or ``exp`` (log-slope of the last two points,
            never slower than physical decay).
    """
    t, y = _check_tac(times_h, activity_mbq)
    lam_phys = lambda_phys_per_h(nuclide)
    inner = float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t))) if len(t) > 1 else 0.0
    if head == "constant":
        head_part = y[0] * t[0]
    elif head == "zero":
        head_part = 0.5 * y[0] * t[0]
    else:
        raise NenscopeError(f"unknown head {head!r} (constant or zero)")
    lam_tail = _tail_rate(t, y, lam_phys, tail)
    tail_part = y[-1] / lam_tail
    return KineticFit(
        model="trapezoid",
        tia_mbq_h=float(head_part + inner + tail_part),
        tia_std_mbq_h=float("nan"),
        t_eff_h=LN2 / lam_tail,
        params={"lambda_tail_per_h": lam_tail, "head_constant": float(head == "constant")},
        times_h=tuple(t.tolist()),
        activity_mbq=tuple(y.tolist()),
    )


def _tail_rate(t: np.ndarray, y: np.ndarray, lam_phys: float, tail: str) -> float:
    if tail == "physical" or len(t) < 2:
        return lam_phys
    if tail != "exp":
        raise NenscopeError(f"unknown tail {tail!r} (physical or exp)")
    slope = (math.log(y[-2]) - math.log(y[-1])) / (t[-1] - t[-2])
    return max(slope, lam_phys)


def _trapezoid_curve(fit: KineticFit, t: np.ndarray) -> np.ndarray:
    ts = np.asarray(fit.times_h)
    ys = np.asarray(fit.activity_mbq)
    y0 = ys[0] if fit.params.get("head_constant", 1.0) else 0.0
    inside = np.interp(t, np.concatenate([[0.0], ts]), np.concatenate([[y0], ys]))
    after = ys[-1] * np.exp(-fit.params["lambda_tail_per_h"] * (t - ts[-1]))
    return np.where(t > ts[-1], after, inside)


def tia_single_time_point(
    time_h: float,
    activity_mbq: float,
    *,
    t_eff_h: float | None = None,
) -> KineticFit:
    """TIA from one measurement.

    Without ``t_eff_h``: Hänscheid et al. 2018, TIA ≈ A(t)·2t/ln 2, accurate (±10 % for
    kidneys and tumours) when t is close to the effective half-life (72–96 h for 177Lu
    DOTATATE). With ``t_eff_h`` (a population value): Madsen et al. 2018, TIA =
    A(t)·e^(λt)/λ with λ = ln 2 / T_eff.
    """
    if not (time_h > 0 and activity_mbq > 0):
        raise NenscopeError("single-time-point dosimetry needs a time > 0 h and activity > 0 MBq")
    if t_eff_h is None:
        tia = activity_mbq * 2.0 * time_h / LN2
        teff = float(time_h)  # the method's own assumption: T_eff ≈ t
    else:
        lam = LN2 / t_eff_h
        tia = activity_mbq * math.exp(lam * time_h) / lam
        teff = float(t_eff_h)
    return KineticFit(
        model="single-time-point",
        tia_mbq_h=float(tia),
        tia_std_mbq_h=float("nan"),
        t_eff_h=teff,
        params={"a0_mbq": float(activity_mbq * math.exp(LN2 / teff * time_h))},
        times_h=(float(time_h),),
        activity_mbq=(float(activity_mbq),),
    )


def _check_tac(times_h: Sequence[float], activity_mbq: Sequence[float]):
    t = np.asarray(times_h, dtype=float)
    y = np.asarray(activity_mbq, dtype=float)
    if t.ndim != 1 or t.shape != y.shape or len(t) == 0:
        raise NenscopeError("times and activities must be 1-D sequences of equal length")
    if np.any(~np.isfinite(t)) or np.any(~np.isfinite(y)):
        raise NenscopeError("time-activity data contain NaN or infinite values")
    if np.any(t <= 0):
        raise NenscopeError("time points must be after administration (time_h > 0)")
    if np.any(y <= 0):
        raise NenscopeError("activities must be > 0 MBq (is the region outside the field of view?)")
    order = np.argsort(t)
    t, y = t[order], y[order]
    if np.any(np.diff(t) <= 0):
        raise NenscopeError("duplicate time points in the time-activity curve")
    return t, y
