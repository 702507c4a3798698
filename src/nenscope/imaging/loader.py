"""``load_study``: a folder or zip of DICOM to a :class:`~nenscope.imaging.study.Study`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import highdicom as hd
import numpy as np

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_str
from nenscope.imaging.discovery import Discovery, SeriesInfo, SkippedFile, discover
from nenscope.imaging.identity import check_same_patient, check_series_identity
from nenscope.imaging.limits import MAX_SUV
from nenscope.imaging.series import load_series, rescale
from nenscope.imaging.study import Study, SuvFactors, SuvOverrides
from nenscope.imaging.suv import read_suv_header

# Discovery reasons of skipped files that cannot be a missing part of a series.
_HARMLESS_REASONS = ("not a DICOM file", "DICOMDIR", "duplicate SOPInstanceUID")


def _as_overrides(overrides: SuvOverrides | Mapping[str, Any] | None) -> SuvOverrides:
    if overrides is None:
        return SuvOverrides()
    if isinstance(overrides, SuvOverrides):
        return overrides
    try:
        return SuvOverrides(**{k: v for k, v in overrides.items() if v is not None})
    except TypeError as exc:
        raise NenscopeError(f"unknown override: {exc}") from exc


def _attenuation_corrected(info: SeriesInfo) -> bool:
    return "ATTN" in (get_str(info.datasets[0], "CorrectedImage") or "").upper().split("\\")


def choose_emission(disc: Discovery, series_uid: str | None = None) -> SeriesInfo:
    """The PT/NM series to load: ``series_uid`` if given, else the only one (attenuation-
    corrected series are preferred over NAC ones); NenscopeError when ambiguous or absent."""
    if series_uid is not None:
        info = disc.get(series_uid)
        if info.kind not in ("PT", "NM"):
            raise NenscopeError(
                f"series {series_uid} is {info.kind}, not a PET or reconstructed SPECT series"
            )
        return info
    candidates = disc.of_kind("PT", "NM")
    if not candidates:
        planar = disc.of_kind("NM-planar")
        extra = f" ({len(planar)} planar/projection NM series are not volumes)" if planar else ""
        raise NenscopeError(f"no PET or reconstructed SPECT series in {disc.root}{extra}")
    if len(candidates) > 1:
        ac = [s for s in candidates if _attenuation_corrected(s)]
        if len(ac) == 1:
            return ac[0]
        listing = "; ".join(
            f"{s.series_instance_uid} ({s.modality}, {s.description or 'no description'}, "
            f"{s.n_instances} files)"
            for s in candidates
        )
        raise NenscopeError(
            f"{len(candidates)} emission series in {disc.root}: {listing}; choose one by its SeriesInstanceUID (series_uid / --series)"
        )
    return candidates[0]


def choose_ct(disc: Discovery, emission: SeriesInfo) -> SeriesInfo | None:
    """The CT of the same study, preferring the emission's frame of reference, then the largest."""
    cts = [s for s in disc.of_kind("CT") if s.study_instance_uid == emission.study_instance_uid]
    if not cts:
        return None
    same_for = [s for s in cts if s.frame_of_reference_uid == emission.frame_of_reference_uid]
    pool = same_for or cts
    return max(pool, key=lambda s: s.n_instances)


def _unreadable(disc: Discovery, info: SeriesInfo) -> tuple[list[SkippedFile], list[str]]:
    """Files skipped by discovery that belong to ``info`` (a missing slice), and notes on
    unreadable files whose series is unknown (they may belong to it)."""
    own = [f for f in disc.skipped_files if f.series_instance_uid == info.series_instance_uid]
    unknown = [
        f
        for f in disc.skipped_files
        if f.series_instance_uid is None and not f.reason.startswith(_HARMLESS_REASONS)
    ]
    notes = []
    if unknown:
        notes.append(
            f"{len(unknown)} file(s) in {disc.root} not read (first: {unknown[0].path}: "
            f"{unknown[0].reason}); if they belong to this study it is incomplete"
        )
    return own, notes


def _check_suv_scale(study_max: float, factors: SuvFactors) -> SuvFactors:
    """Refuse SUV factors that give an SUV above :data:`~nenscope.imaging.limits.MAX_SUV`."""
    if factors.bw is None or not np.isfinite(study_max) or study_max * factors.bw <= MAX_SUV:
        return factors
    reason = (
        f"the header gives SUVmax {study_max * factors.bw:.3g} (SUVbw factor {factors.bw:.4g}); "
        f"the limit is {MAX_SUV:g}: check the injected activity, the times and the units "
        "(--injected-mbq, --injection-time)"
    )
    return SuvFactors(warnings=[reason, *factors.warnings])


def _load_ct(
    disc: Discovery, info: SeriesInfo, identity, allow_mismatch: bool, warnings: list[str]
) -> tuple[hd.Volume | None, str | None]:
    """The CT of the study (its patient checked against the emission's), or (None, None)."""
    ct_info = choose_ct(disc, info)
    if ct_info is None:
        return None, None
    ct_identity, notes = check_series_identity(
        ct_info.datasets, "CT", allow_mismatch=allow_mismatch
    )
    warnings += notes
    warnings += check_same_patient(
        [identity, ct_identity], same_study=True, allow_mismatch=allow_mismatch
    )
    own, _ = _unreadable(disc, ct_info)
    if own:
        warnings.append(
            f"CT series {ct_info.series_instance_uid} not loaded: {len(own)} slice(s) unreadable "
            f"({own[0].path}: {own[0].reason})"
        )
        return None, None
    try:
        loaded = load_series(ct_info)
    except NenscopeError as exc:
        warnings.append(f"CT series {ct_info.series_instance_uid} not loaded: {exc}")
        return None, None
    warnings += loaded.warnings
    return loaded.volume, ct_info.series_instance_uid


def load_study(
    path: str | os.PathLike | Discovery,
    *,
    overrides: SuvOverrides | Mapping[str, Any] | None = None,
    series_uid: str | None = None,
    load_ct: bool = True,
    allow_mismatch: bool = False,
) -> Study:
    """Load a PET or SPECT study (and its CT) from a folder, a zip, or a :class:`Discovery`.

    Args:
        path: folder or zip file holding one PT or reconstructed NM series (others allowed
            when ``series_uid`` picks one) and optionally a CT of the same study.
        overrides: :class:`SuvOverrides` (or a dict of its fields) replacing header values:
            weight_kg, height_cm, injected_mbq, injection_time.
        series_uid: SeriesInstanceUID of the emission series to load.
        load_ct: also load the CT volume (on its own grid).
        allow_mismatch: accept slices or a CT that name another patient or study (research
            data), with warnings (:mod:`nenscope.imaging.identity`).

    Returns:
        :class:`Study` with the emission volume in its stored units and the SUV factors
        (QIBA, see :mod:`nenscope.imaging.suv`).

    Raises:
        NenscopeError: no or ambiguous emission series, unreadable geometry or pixels, a slice
            of the series unreadable or missing, slices or CT of another patient or study.
    """
    ov = _as_overrides(overrides)
    disc = path if isinstance(path, Discovery) else discover(path)
    info = choose_emission(disc, series_uid)
    label = "SPECT" if info.kind == "NM" else "PET"
    identity, warnings = check_series_identity(info.datasets, label, allow_mismatch=allow_mismatch)
    own, notes = _unreadable(disc, info)
    if own:
        raise NenscopeError(
            f"{len(own)} file(s) of {label} series {info.series_instance_uid} are unreadable "
            f"(first: {own[0].path}: {own[0].reason}); refusing an incomplete volume"
        )
    modality = "NM" if info.kind == "NM" else "PT"
    units = rescale(info.datasets[0])[2]
    header = read_suv_header(info.datasets, modality=modality, units=units, overrides=ov)
    factors = header.slice_factors
    loaded = load_series(
        info, slice_scale=(lambda ds: factors.get(id(ds), 1.0)) if factors else None
    )
    warnings += notes + list(loaded.warnings)
    warnings += [w for w in header.warnings if w not in header.factors.warnings]
    suv = _check_suv_scale(float(np.nanmax(loaded.volume.array)), header.factors)
    ct, ct_uid = (
        _load_ct(disc, info, identity, allow_mismatch, warnings) if load_ct else (None, None)
    )
    return Study(
        modality=modality,
        emission=loaded.volume,
        units=header.units or "",
        suv=suv,
        ct=ct,
        agent=header.agent,
        radionuclide=header.radionuclide,
        injected_activity_bq=header.injected_activity_bq,
        injection_datetime=header.injection_datetime,
        scan_start_datetime=header.scan_start_datetime,
        decay_correction=header.decay_correction,
        half_life_s=header.half_life_s,
        patient=header.patient,
        study_instance_uid=info.study_instance_uid,
        series_instance_uid=info.series_instance_uid,
        ct_series_instance_uid=ct_uid,
        frame_of_reference_uid=info.frame_of_reference_uid,
        acquisition_datetime=header.acquisition_datetime,
        frame_duration_s=header.frame_duration_s,
        description=info.description,
        warnings=list(dict.fromkeys(warnings)),
        identity=identity,
        source_header=info.datasets[0],
    )
