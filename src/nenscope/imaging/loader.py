"""``load_study``: a folder or zip of DICOM to a :class:`~nenscope.imaging.study.Study`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_str
from nenscope.imaging.discovery import Discovery, SeriesInfo, discover
from nenscope.imaging.series import load_series
from nenscope.imaging.study import Study, SuvOverrides
from nenscope.imaging.suv import read_suv_header


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


def load_study(
    path: str | os.PathLike | Discovery,
    *,
    overrides: SuvOverrides | Mapping[str, Any] | None = None,
    series_uid: str | None = None,
    load_ct: bool = True,
) -> Study:
    """Load a PET or SPECT study (and its CT) from a folder, a zip, or a :class:`Discovery`.

    Args:
        path: folder or zip file holding one PT or reconstructed NM series (others allowed
            when ``series_uid`` picks one) and optionally a CT of the same study.
        overrides: :class:`SuvOverrides` (or a dict of its fields) replacing header values:
            weight_kg, height_cm, injected_mbq, injection_time.
        series_uid: SeriesInstanceUID of the emission series to load.
        load_ct: also load the CT volume (on its own grid).

    Returns:
        :class:`Study` with the emission volume in its stored units and the SUV factors
        (QIBA, see :mod:`nenscope.imaging.suv`).

    Raises:
        NenscopeError: no or ambiguous emission series, unreadable geometry or pixels.
    """
    ov = _as_overrides(overrides)
    disc = path if isinstance(path, Discovery) else discover(path)
    info = choose_emission(disc, series_uid)
    loaded = load_series(info)
    modality = "NM" if info.kind == "NM" else "PT"
    header = read_suv_header(loaded.datasets, modality=modality, units=loaded.units, overrides=ov)
    warnings = list(loaded.warnings) + [
        w for w in header.warnings if w not in header.factors.warnings
    ]
    ct = None
    ct_uid = None
    ct_info = choose_ct(disc, info)
    if ct_info is not None and load_ct:
        try:
            ct = load_series(ct_info).volume
            ct_uid = ct_info.series_instance_uid
        except NenscopeError as exc:
            warnings.append(f"CT series {ct_info.series_instance_uid} not loaded: {exc}")
    return Study(
        modality=modality,
        emission=loaded.volume,
        units=header.units or "",
        suv=header.factors,
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
        warnings=warnings,
    )
