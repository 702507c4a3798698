"""Options of the analysis pipeline (:func:`nenscope.analysis.analyze`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ThresholdMethod = Literal["liver", "percist", "suvmax_percent", "fixed"]


@dataclass(frozen=True)
class AnalysisOptions:
    """How lesions are found and scored.

    Attributes:
        tracer: agent name that overrides the study's (``--tracer``).
        suv_kind: SUV normalisation used for every number (``"bw"``; PERCIST asks ``"sul"``).
        threshold_method: ``None`` picks the agent's default (SSTR and GLP-1R ``"liver"``,
            FDG ``"percist"``); ``"liver"`` (liver-relative, qPSMA style), ``"percist"``
            (1.5 x liver mean + 2 SD), ``"suvmax_percent"`` (fraction of each component's
            SUVmax above the liver-relative seed threshold) or ``"fixed"`` (``fixed_suv``).
        detect_method: detection threshold (hysteresis): a component is kept only if its
            SUVmax exceeds this one; ``None`` picks the agent's default (FDG ``"percist"``,
            SSTR/GLP-1R ``"none"``); same names as ``threshold_method``.
        liver_factor: multiple of (liver SUVmean + ``liver_k_sd`` SD) for ``"liver"``;
            ``None`` uses the agent-class default (SSTR 1.0, FDG 1.0, GLP-1R 1.0).
        liver_k_sd: number of liver SDs (of the smoothed SUV) added for ``"liver"``;
            ``None``: the agent default (``data/scores.toml``).
        extrahepatic_liver_fraction: with ``"liver"``, the threshold outside the liver is
            this fraction of the liver SUVmean (SSTR default 0.6: between the Krenning 1 and 2
            levels, so lesions with uptake about liver are found outside it; 0.45 when bowel
            and pancreas masks are given, which raise the threshold over those organs);
            ``None``: the agent default (FDG and GLP-1R: none, the liver-relative value
            applies everywhere).
        fixed_suv: SUV threshold for ``"fixed"`` (and the fallback when no liver is found).
        suvmax_fraction: fraction of SUVmax for ``"suvmax_percent"``; ``None``: 0.41
            (EANM, from ``data/scores.toml``).
        min_volume_ml: smallest lesion kept, in ml.
        split_lesions: split touching lesions by a marker watershed on SUV; ``None``: the
            agent class's default (SSTR and GLP-1R yes, FDG no: see ``scores.toml``).
        split_min_height_suv: a second maximum must rise this many SUV above the saddle
            (h-maxima dynamic) to become its own lesion; ``None``: 25 % of the threshold
            (50 % when ``split_min_height_fraction`` is ``None``).
        split_min_height_fraction: ... and also rise this fraction of its own SUV above the
            saddle (default 0.1: OSEM noise grows with uptake, so a moderate lesion on the
            tail of a hot one is split off while noise in a hot lesion is not); ``None``:
            the absolute height alone.
        suppress_physiological: remove physiological uptake (organ masks, built-in detectors).
        split_kidney_lesions: without kidney masks, split a component recognised as a kidney
            by the touching-lesion watershed and classify its smaller pieces again (a tumour
            with kidney-like uptake fused with it); the 177Lu SPECT auto-masks of the
            dosimetry turn it off (at SPECT noise the kidney itself falls into basins).
        fill_holes: fill cold cores (necrosis) inside each lesion.
        contrast_fraction: delineate each detected lesion at background + this fraction of
            (SUVmax - background) (0.5: the EARL "A50" VOI); 0 keeps the plain threshold
            mask (qPSMA-style volumes, larger for hot lesions); ``None``: the agent default
            (SSTR/GLP-1R 0.5, FDG 0: metabolic volume by threshold).
        detect_on_peak: a candidate is a lesion only if its SUVpeak reaches the threshold
            (PERCIST measurability); ``False``: its maximum on the smoothed image.
        detect_smooth_fwhm_mm: Gaussian FWHM (mm) of the copy on which lesions are detected
            and delineated (0: none); metrics always use the original SUV.
        liver_smooth_fwhm_mm: stronger Gaussian FWHM (mm) used inside the liver, whose high
            physiological uptake carries high absolute noise.
        match_distance_mm: SSTR/FDG lesions closer than this (centre to mask) are one lesion.
        psf_fwhm_mm: effective resolution of the scanner (FWHM, mm) for the
            partial-volume-corrected uptake behind the Krenning score and NETPET; ``None``:
            9 mm for 18F (EARL1-like) combined with the study radionuclide's positron range
            (:func:`nenscope.analysis.pvc.effective_fwhm_mm`: 68Ga about 10.4 mm).
    """

    tracer: str | None = None
    suv_kind: str = "bw"
    threshold_method: ThresholdMethod | None = None
    detect_method: ThresholdMethod | Literal["none"] | None = None
    liver_factor: float | None = None
    liver_k_sd: float | None = None
    extrahepatic_liver_fraction: float | None = None
    fixed_suv: float = 2.5
    suvmax_fraction: float | None = None
    min_volume_ml: float = 0.3
    split_lesions: bool | None = None
    split_min_height_suv: float | None = None
    split_min_height_fraction: float | None = 0.1
    suppress_physiological: bool = True
    split_kidney_lesions: bool = True
    fill_holes: bool = True
    contrast_fraction: float | None = None
    detect_on_peak: bool = False
    detect_smooth_fwhm_mm: float = 4.0
    liver_smooth_fwhm_mm: float = 8.0
    match_distance_mm: float = 10.0
    psf_fwhm_mm: float | None = None


@dataclass(frozen=True)
class ResolvedOptions:
    """:class:`AnalysisOptions` for one agent class with every ``None`` default filled in.

    Made by :func:`resolve`; the analysis stages read only this record. The fields of
    :class:`AnalysisOptions` keep their meaning; the agent defaults (``scores.toml``
    ``[thresholds.defaults.<class>]``) and the segmentation constants (``[thresholds]``)
    are filled in. Three fields stay optional by design: ``split_min_height_suv`` (``None``:
    derived from the threshold), ``split_min_height_fraction`` (``None``: no relative test)
    and ``contrast_fraction`` (``None``: the plain threshold mask).

    Attributes:
        agent_class: ``"sstr"``, ``"fdg"`` or ``"glp1r"``.
        liver_detect_k_sd: detection level inside the liver, liver mean + this many SDs of
            the smoothed liver (FDG), or ``None`` (the detection threshold applies there).
        extrahepatic_liver_fraction_masked: the agent's extrahepatic fraction when bowel and
            pancreas masks raise the thresholds over those organs (without them: the lower
            clip of the local-background threshold); ``None`` when the user set
            ``extrahepatic_liver_fraction`` (then it applies as given) or the agent has none.
        organ_factor: a lesion in an organ with physiological uptake must exceed this
            multiple of the organ's median + 2 robust SD (smoothed SUV).
        liver_margin_mm: the liver-relative threshold also covers this margin beyond the
            liver mask (its blurred edge).
        noise_k: per-slice noise floor, median + ``noise_k`` robust SD of the fine structure.
        percist_factor, percist_k_sd: PERCIST threshold, factor x liver mean + k x liver SD.
    """

    agent_class: str
    suv_kind: str
    threshold_method: str
    detect_method: str
    liver_factor: float
    liver_k_sd: float
    liver_detect_k_sd: float | None
    extrahepatic_liver_fraction: float | None
    extrahepatic_liver_fraction_masked: float | None
    fixed_suv: float
    suvmax_fraction: float
    min_volume_ml: float
    split_lesions: bool
    split_min_height_suv: float | None
    split_min_height_fraction: float | None
    suppress_physiological: bool
    split_kidney_lesions: bool
    fill_holes: bool
    contrast_fraction: float | None
    detect_on_peak: bool
    detect_smooth_fwhm_mm: float
    liver_smooth_fwhm_mm: float
    match_distance_mm: float
    psf_fwhm_mm: float
    organ_factor: float
    liver_margin_mm: float
    noise_k: float
    percist_factor: float
    percist_k_sd: float


def resolve(
    options: AnalysisOptions, agent_class: str, radionuclide: str | None = None
) -> ResolvedOptions:
    """Fill every ``None`` of ``options`` with the default of ``agent_class``.

    Args:
        options: the user's options.
        agent_class: ``"sstr"``, ``"fdg"`` or ``"glp1r"`` (:func:`~nenscope.analysis.rules.
            agent_class_of`): selects ``[thresholds.defaults.<class>]`` of ``scores.toml``.
        radionuclide: the study's radionuclide (``"Ga-68"``); with ``psf_fwhm_mm=None`` the
            resolution is :func:`~nenscope.analysis.pvc.effective_fwhm_mm` of it (9 mm,
            ``BASE_FWHM_MM``, when unknown).
    """
    from nenscope.analysis.pvc import effective_fwhm_mm
    from nenscope.analysis.rules import score_rules

    t = score_rules()["thresholds"]
    d = t["defaults"][agent_class]

    def pick(value, key: str):
        return value if value is not None else d.get(key)

    contrast = pick(options.contrast_fraction, "contrast_fraction")
    return ResolvedOptions(
        agent_class=agent_class,
        suv_kind=options.suv_kind,
        threshold_method=options.threshold_method or d["threshold_method"],
        detect_method=options.detect_method or d["detect_method"],
        liver_factor=pick(options.liver_factor, "liver_factor"),
        liver_k_sd=pick(options.liver_k_sd, "liver_k_sd"),
        liver_detect_k_sd=d.get("liver_detect_k_sd"),
        extrahepatic_liver_fraction=pick(
            options.extrahepatic_liver_fraction, "extrahepatic_liver_fraction"
        ),
        extrahepatic_liver_fraction_masked=(
            d.get("extrahepatic_liver_fraction_masked")
            if options.extrahepatic_liver_fraction is None
            else None
        ),
        fixed_suv=options.fixed_suv,
        suvmax_fraction=(
            options.suvmax_fraction
            if options.suvmax_fraction is not None
            else float(t["suvmax_fraction"])
        ),
        min_volume_ml=options.min_volume_ml,
        split_lesions=(
            options.split_lesions
            if options.split_lesions is not None
            else bool(d.get("split_lesions", True))
        ),
        split_min_height_suv=options.split_min_height_suv,
        split_min_height_fraction=options.split_min_height_fraction,
        suppress_physiological=options.suppress_physiological,
        split_kidney_lesions=options.split_kidney_lesions,
        fill_holes=options.fill_holes,
        contrast_fraction=contrast if contrast and contrast > 0 else None,
        detect_on_peak=options.detect_on_peak,
        detect_smooth_fwhm_mm=options.detect_smooth_fwhm_mm,
        liver_smooth_fwhm_mm=options.liver_smooth_fwhm_mm,
        match_distance_mm=options.match_distance_mm,
        psf_fwhm_mm=(
            options.psf_fwhm_mm
            if options.psf_fwhm_mm is not None
            else effective_fwhm_mm(radionuclide)
        ),
        organ_factor=float(t["organ_factor"]),
        liver_margin_mm=float(t["liver_margin_mm"]),
        noise_k=float(t["noise_k"]),
        percist_factor=float(t["percist_factor"]),
        percist_k_sd=float(t["percist_k_sd"]),
    )
