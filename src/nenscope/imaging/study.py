"""The core imaging records: :class:`Patient`, :class:`SuvFactors`, :class:`Study`.

A :class:`Study` is what every later stage (analysis, radiomics, dosimetry, report) consumes:
the emission volume (PET or SPECT) in its stored, rescaled units, the multiplicative factors
that turn those values into each kind of SUV, the CT, the tracer, the patient and the times.

SUV definitions follow the QIBA vendor-neutral SUV pseudo-code (QIBA FDG-PET/CT Profile,
"SUV calculation" wiki page, 2013); body-size normalisations are computed in
:mod:`nenscope.imaging.suv`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from nenscope.errors import NenscopeError
from nenscope.imaging.identity import PatientIdentity

SuvKind = Literal["bw", "sul", "lbm_james", "bsa", "ibw"]
SUV_KINDS: tuple[str, ...] = ("bw", "sul", "lbm_james", "bsa", "ibw")


@dataclass(frozen=True)
class Patient:
    """Patient attributes used by SUV normalisation.

    Attributes:
        sex: ``"F"``, ``"M"`` or ``None`` (DICOM PatientSex (0010,0040); ``"O"`` maps to None).
        weight_kg: body weight in kg (PatientWeight (0010,1030)).
        height_m: body height in m (PatientSize (0010,1020)).
        age_years: age in years (PatientAge (0010,1010)), if known.
    """

    sex: Literal["F", "M"] | None = None
    weight_kg: float | None = None
    height_m: float | None = None
    age_years: float | None = None


@dataclass(frozen=True)
class SuvFactors:
    """Factors that multiply the stored, rescaled emission values to give each SUV.

    A factor is ``None`` when it cannot be computed; the reason is in ``warnings``.

    Attributes:
        bw: SUVbw (body weight), g/ml per stored unit.
        sul: SUL, lean body mass by Janmahasatian et al., Clin Pharmacokinet 2005;44:1051.
        lbm_james: SUV-LBM with James' formula (Human Nutrition in the UK, 1976).
        bsa: SUV-BSA with DuBois & DuBois, Arch Intern Med 1916;17:863 (cm²/ml).
        ibw: SUV normalised by ideal body weight (Sugawara et al., Radiology 1999;213:521).
        warnings: why a factor is missing or doubtful.
    """

    bw: float | None = None
    sul: float | None = None
    lbm_james: float | None = None
    bsa: float | None = None
    ibw: float | None = None
    warnings: list[str] = field(default_factory=list)

    def get(self, kind: str) -> float | None:
        """Return the factor for ``kind`` (one of ``SUV_KINDS``)."""
        if kind not in SUV_KINDS:
            raise NenscopeError(f"unknown SUV kind {kind!r}; choose one of {', '.join(SUV_KINDS)}")
        return getattr(self, kind)


class SuvView:
    """``study.suv``: the :class:`SuvFactors` of a study, callable to get an SUV volume.

    ``study.suv.bw`` is the SUVbw factor; ``study.suv("sul")`` is the SUL volume.
    """

    __slots__ = ("_study", "factors")

    def __init__(self, study: Study, factors: SuvFactors):
        self._study = study
        self.factors = factors

    def __getattr__(self, name: str):
        if name in ("factors", "_study") or name.startswith("__"):  # during copy/unpickling
            raise AttributeError(name)
        return getattr(self.factors, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SuvView):
            other = other.factors
        return self.factors == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.factors)

    def __call__(self, kind: str = "bw") -> hd.Volume:
        """Return the emission volume converted to SUV of ``kind`` (float32).

        ``kind`` is one of ``"bw"``, ``"sul"``, ``"lbm_james"``, ``"bsa"``, ``"ibw"``.
        Raises :class:`~nenscope.errors.NenscopeError` when that factor is unavailable,
        naming the reasons collected while loading.
        """
        factor = self.factors.get(kind)
        if factor is None:
            why = "; ".join(self.factors.warnings) or "no reason recorded"
            raise NenscopeError(f"SUV {kind} cannot be computed: {why}")
        emission = self._study.emission
        arr = np.asarray(emission.array, dtype=np.float32) * np.float32(factor)
        return emission.with_array(arr)


class _SuvField:
    """Data descriptor: stores a :class:`SuvFactors`, returns a callable :class:`SuvView`.

    It lets ``Study`` keep the agreed API where ``suv`` is both the factor record
    (``study.suv.bw``) and the method ``study.suv(kind="bw")``.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._attr = "_" + name + "_factors"

    def __get__(self, obj: Study | None, objtype: type | None = None):
        if obj is None:  # dataclasses asks for a default: there is none (required field)
            raise AttributeError("suv")
        return SuvView(obj, obj.__dict__[self._attr])

    def __set__(self, obj: Study, value: SuvFactors | SuvView) -> None:
        if isinstance(value, SuvView):
            value = value.factors
        if not isinstance(value, SuvFactors):
            raise TypeError(f"Study.suv must be SuvFactors, not {type(value).__name__}")
        obj.__dict__[self._attr] = value


@dataclass
class Study:
    """One emission series (PET or SPECT) with its CT, tracer, patient, times and SUV factors.

    Attributes:
        modality: ``"PT"`` or ``"NM"``.
        emission: stored pixel values after per-slice rescale, in ``units``
            (``highdicom.Volume``, PATIENT coordinates, axis 0 = slice).
        units: DICOM Units (0054,1001): ``"BQML"``, ``"CNTS"``, ``"GML"``, ...
        suv: factors from ``emission`` values to each SUV kind (a :class:`SuvFactors`);
            reading it gives a :class:`SuvView`, so ``study.suv.bw`` is the SUVbw factor and
            ``study.suv("bw")`` the SUVbw volume (float32 ``highdicom.Volume``).
        ct: CT volume on its own grid, or ``None``.
        agent: tracer catalogue name when recognised (``"68Ga-DOTATATE"``, ``"18F-FDG"``),
            the raw radiopharmaceutical text otherwise, or ``None``.
        radionuclide: e.g. ``"Ga-68"``, or ``None``.
        injected_activity_bq: RadionuclideTotalDose (0018,1074) in Bq (or the override).
        injection_datetime: radiopharmaceutical start date/time.
        scan_start_datetime: QIBA scan start (series date/time, or an earlier acquisition
            date/time for post-processed series).
        decay_correction: DecayCorrection (0054,1102): ``"START"``, ``"ADMIN"``, ``"NONE"``.
        half_life_s: radionuclide half-life in s used for decay correction.
        patient: sex, weight, height, age.
        study_instance_uid, series_instance_uid, ct_series_instance_uid,
        frame_of_reference_uid: source identifiers.
        acquisition_datetime: earliest acquisition date/time in the series (for SPECT
            dosimetry: the time the activity was measured), or ``None``.
        frame_duration_s: ActualFrameDuration (0018,1242) in s, if present.
        description: SeriesDescription.
        warnings: anything doubtful found while loading.
        identity: patient and study identifiers of the emission series (for
            :func:`nenscope.imaging.identity.check_same_patient`; the name is never shown).
        source_header: one header of the emission series (pixel data not loaded), for
            derived objects that copy its patient and study (RT Dose).
    """

    modality: Literal["PT", "NM"]
    emission: hd.Volume
    units: str
    suv: SuvFactors = _SuvField()  # type: ignore[assignment]
    ct: hd.Volume | None = None
    agent: str | None = None
    radionuclide: str | None = None
    injected_activity_bq: float | None = None
    injection_datetime: datetime | None = None
    scan_start_datetime: datetime | None = None
    decay_correction: str | None = None
    half_life_s: float | None = None
    patient: Patient = field(default_factory=Patient)
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    ct_series_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    acquisition_datetime: datetime | None = None
    frame_duration_s: float | None = None
    description: str | None = None
    warnings: list[str] = field(default_factory=list)
    identity: PatientIdentity | None = None
    source_header: Dataset | None = field(default=None, repr=False)

    def decay_to_acquisition_factor(self) -> float:
        """Factor that turns the stored emission values into activity concentration at the
        acquisition start (``acquisition_datetime``, else ``scan_start_datetime``).

        DecayCorrection START: values refer to the scan start; ADMIN: to the injection;
        NONE: to the acquisition itself (factor 1). The factor is
        ``2^(−(t_acq − t_ref)/T½)`` (PS3.3 C.8.9.1.1.11 DecayCorrection). Used by dosimetry to
        get activity at the time of imaging from quantitative SPECT/PET.

        Raises:
            NenscopeError: a time or the half-life needed for the correction is missing.
        """
        t_acq = self.acquisition_datetime or self.scan_start_datetime
        mode = (self.decay_correction or "NONE").upper()
        if mode == "NONE":
            return 1.0
        t_ref = self.scan_start_datetime if mode == "START" else self.injection_datetime
        if t_acq is None or t_ref is None or not self.half_life_s:
            raise NenscopeError(
                f"cannot undo DecayCorrection {mode}: acquisition time, "
                f"{'scan start' if mode == 'START' else 'injection time'} or half-life missing"
            )
        dt_s = (t_acq - t_ref).total_seconds()
        return float(2.0 ** (-dt_s / self.half_life_s))

    @property
    def suv_factors(self) -> SuvFactors:
        """The plain :class:`SuvFactors` record."""
        return self.suv.factors


@dataclass(frozen=True)
class SuvOverrides:
    """Values the user supplies when the DICOM header lacks (or gets wrong) them.

    Each one replaces the header value; CLI options ``--weight-kg``, ``--height-cm``,
    ``--injected-mbq``, ``--injection-time``.

    Attributes:
        weight_kg: patient weight in kg (replaces PatientWeight (0010,1030)).
        height_cm: patient height in cm (replaces PatientSize (0010,1020), which is in m).
        injected_mbq: injected activity in MBq (replaces RadionuclideTotalDose (0018,1074)).
        injection_time: injection date/time; a ``datetime``, or an ISO string
            ``"YYYY-MM-DDTHH:MM[:SS]"`` or ``"HH:MM[:SS]"`` (then on the series date).
    """

    weight_kg: float | None = None
    height_cm: float | None = None
    injected_mbq: float | None = None
    injection_time: datetime | str | None = None
