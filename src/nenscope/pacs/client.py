"""Find, pull and push studies on a DICOMweb PACS (QIDO-RS, WADO-RS, STOW-RS; DICOM PS3.18).

:class:`Pacs` wraps :class:`dicomweb_client.DICOMwebClient` with the session of
:mod:`nenscope.pacs.session` (authentication, retries with back-off, timeouts) and turns every
failure into a :class:`~nenscope.pacs.session.PacsError`. Tested against Orthanc with its
DICOMweb plugin; any PS3.18 server works the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dicomweb_client import DICOMwebClient
from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError

from nenscope.atomic import atomic_path
from nenscope.pacs.session import PacsAuth, PacsError, make_session, translate_errors

# STOW-RS requests are kept below this size, and sent whole (not chunked) so a retry can
# send the same body again.
STOW_BATCH_BYTES = 32 * 1024 * 1024
_STUDY_FIELDS = (
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
_SERIES_FIELDS = ("SeriesDescription", "NumberOfSeriesRelatedInstances")
_DATE = re.compile(r"^(\d{8})?-?(\d{8})?$")


@dataclass(frozen=True)
class StudyMatch:
    """One study found by :meth:`Pacs.find_studies` (QIDO-RS study-level attributes).

    Attributes:
        study_instance_uid: StudyInstanceUID (0020,000D).
        patient_id: PatientID (0010,0020).
        patient_name: PatientName (0010,0010), DICOM PN text.
        study_date: StudyDate as ISO ``YYYY-MM-DD``.
        modalities: ModalitiesInStudy (0008,0061).
        description: StudyDescription (0008,1030).
        accession_number: AccessionNumber (0008,0050).
        n_series: NumberOfStudyRelatedSeries (0020,1206).
        n_instances: NumberOfStudyRelatedInstances (0020,1208).
    """

    study_instance_uid: str
    patient_id: str | None = None
    patient_name: str | None = None
    study_date: str | None = None
    modalities: tuple[str, ...] = ()
    description: str | None = None
    accession_number: str | None = None
    n_series: int | None = None
    n_instances: int | None = None


@dataclass(frozen=True)
class SeriesMatch:
    """One series of a study (QIDO-RS series-level attributes)."""

    series_instance_uid: str
    modality: str | None = None
    series_number: int | None = None
    description: str | None = None
    n_instances: int | None = None


@dataclass(frozen=True)
class PullResult:
    """What :meth:`Pacs.pull_study` wrote: ``folder/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``."""

    folder: Path
    n_instances: int
    series: tuple[SeriesMatch, ...]


def dicom_date_range(text: str) -> str:
    """A QIDO-RS date range from ``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD`` (either end may be
    left open) or ISO ``YYYY-MM-DD..YYYY-MM-DD``; raises :class:`PacsError` otherwise."""
    raw = text.strip()
    if ".." in raw:
        ends = [e.strip().replace("-", "") for e in raw.split("..", 1)]
        raw = f"{ends[0]}-{ends[1]}"
    match = _DATE.match(raw)
    if not raw or raw == "-" or match is None:
        raise PacsError(
            f"--date-range {text!r}: use YYYYMMDD, YYYYMMDD-YYYYMMDD (an end may be left open) "
            "or YYYY-MM-DD..YYYY-MM-DD"
        )
    for day in match.groups():
        if day:
            try:
                datetime.strptime(day, "%Y%m%d")
            except ValueError:
                raise PacsError(f"--date-range {text!r}: {day} is not a calendar date") from None
    return raw


_PACS_URI = re.compile(r"^pacs(\+https)?://([^/]+)(/.*)?/studies/([0-9.]+)/?$")


def is_pacs_uri(text: str | os.PathLike) -> bool:
    """Whether ``text`` is a ``pacs://`` study address (see :func:`parse_pacs_uri`)."""
    return str(text).startswith(("pacs://", "pacs+https://"))


def parse_pacs_uri(text: str) -> tuple[str, str]:
    """(DICOMweb root URL, StudyInstanceUID) of a study address
    ``pacs://HOST[:PORT]/ROOT/studies/UID`` (``pacs+https://`` for HTTPS), e.g.
    ``pacs://127.0.0.1:8042/dicom-web/studies/1.2.3`` -> ``http://127.0.0.1:8042/dicom-web``."""
    match = _PACS_URI.match(text.strip())
    if match is None:
        raise PacsError(
            f"{text!r} is not a PACS study address: use pacs://HOST:PORT/dicom-web/studies/UID "
            "(pacs+https:// for HTTPS)"
        )
    secure, host, root, uid = match.groups()
    return f"{'https' if secure else 'http'}://{host}{root or ''}", uid


def _value(ds: Dataset, keyword: str):
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return value


def _study_match(item: dict) -> StudyMatch:
    ds = Dataset.from_json(item)
    date = _value(ds, "StudyDate")
    modalities = _value(ds, "ModalitiesInStudy")
    if isinstance(modalities, str):
        modalities = [modalities]
    n_series, n_instances = (_value(ds, k) for k in _STUDY_FIELDS[2:])
    return StudyMatch(
        study_instance_uid=str(ds.StudyInstanceUID),
        patient_id=_value(ds, "PatientID"),
        patient_name=str(ds.PatientName) if _value(ds, "PatientName") else None,
        study_date=f"{date[:4]}-{date[4:6]}-{date[6:8]}" if date and len(date) == 8 else date,
        modalities=tuple(str(m) for m in modalities or ()),
        description=_value(ds, "StudyDescription"),
        accession_number=_value(ds, "AccessionNumber"),
        n_series=int(n_series) if n_series is not None else None,
        n_instances=int(n_instances) if n_instances is not None else None,
    )


def _series_match(item: dict) -> SeriesMatch:
    ds = Dataset.from_json(item)
    number, count = _value(ds, "SeriesNumber"), _value(ds, "NumberOfSeriesRelatedInstances")
    return SeriesMatch(
        series_instance_uid=str(ds.SeriesInstanceUID),
        modality=_value(ds, "Modality"),
        series_number=int(number) if number is not None else None,
        description=_value(ds, "SeriesDescription"),
        n_instances=int(count) if count is not None else None,
    )


def _iter_datasets(items: Iterable[Dataset | str | os.PathLike]) -> Iterator[Dataset]:
    """Datasets as given, or read from files and (recursively) folders; non-DICOM files are
    passed over."""
    for item in items:
        if isinstance(item, Dataset):
            yield item
            continue
        path = Path(item)
        if not path.exists():
            raise PacsError(f"{path} does not exist: nothing to push")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                yield dcmread(file)
            except (InvalidDicomError, EOFError, ValueError):
                continue


class Pacs:
    """A DICOMweb PACS at ``url`` (the service root, e.g. ``http://host:8042/dicom-web``).

    Args:
        url: DICOMweb root URL.
        auth: credentials (None: anonymous).
        retries: tries after the first for refused connections and HTTP 429/502/503/504.
        backoff_s: first back-off delay; it doubles with every retry.
        timeout_s: limit for one request (connect and each read), in seconds.
    """

    def __init__(
        self,
        url: str,
        auth: PacsAuth | None = None,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 60.0,
    ):
        if not re.match(r"^https?://[^/]+", url or ""):
            raise PacsError(
                f"--url {url!r}: give the DICOMweb root, e.g. http://host:8042/dicom-web"
            )
        self.url = url.rstrip("/")
        self.retries, self.timeout_s = retries, timeout_s
        session = make_session(auth, retries=retries, backoff_s=backoff_s, timeout_s=timeout_s)
        self._client = DICOMwebClient(
            self.url, session=session, timeout=timeout_s, chunk_size=2 * STOW_BATCH_BYTES
        )
        self._client.set_http_retry_params(retry=False)  # the session retries, once

    def _errors(self, what: str):
        return translate_errors(self.url, what, retries=self.retries, timeout_s=self.timeout_s)

    def find_studies(
        self,
        *,
        patient_id: str | None = None,
        modality: str | None = None,
        date_range: str | None = None,
        limit: int | None = None,
    ) -> list[StudyMatch]:
        """Studies matching all the given filters (QIDO-RS ``/studies``), newest first.

        ``date_range`` as accepted by :func:`dicom_date_range`; ``patient_id`` may use the
        QIDO wildcards ``*`` and ``?``.
        """
        filters = {"PatientID": patient_id, "ModalitiesInStudy": modality}
        if date_range:
            filters["StudyDate"] = dicom_date_range(date_range)
        filters = {k: v for k, v in filters.items() if v}
        with self._errors("the study search"):
            found = self._client.search_for_studies(
                fields=list(_STUDY_FIELDS), search_filters=filters, limit=limit
            )
        studies = [_study_match(item) for item in found]
        return sorted(studies, key=lambda s: s.study_date or "", reverse=True)

    def find_series(self, study_uid: str) -> list[SeriesMatch]:
        """The series of study ``study_uid`` (QIDO-RS ``/studies/{uid}/series``)."""
        with self._errors(f"the series of study {study_uid}"):
            found = self._client.search_for_series(
                study_instance_uid=study_uid, fields=list(_SERIES_FIELDS)
            )
        if not found:
            raise PacsError(f"the PACS at {self.url} has no study {study_uid}: check --study")
        return sorted((_series_match(i) for i in found), key=lambda s: s.series_number or 0)

    def pull_study(
        self,
        study_uid: str,
        out_dir: str | os.PathLike,
        *,
        modalities: Sequence[str] | None = None,
    ) -> PullResult:
        """Download study ``study_uid`` (WADO-RS) into ``out_dir``, series by series, each file
        written atomically; ``modalities`` (e.g. ``("PT", "CT")``) keeps only those series."""
        wanted = {m.upper() for m in modalities} if modalities else None
        series = [
            s for s in self.find_series(study_uid) if wanted is None or (s.modality or "") in wanted
        ]
        if not series:
            raise PacsError(
                f"study {study_uid} has no series of modality {', '.join(sorted(wanted or ()))}"
            )
        out = Path(out_dir)
        count = 0
        for info in series:
            folder = out / info.series_instance_uid
            folder.mkdir(parents=True, exist_ok=True)
            with self._errors(f"series {info.series_instance_uid} of study {study_uid}"):
                for ds in self._client.iter_series(study_uid, info.series_instance_uid):
                    with atomic_path(folder / f"{ds.SOPInstanceUID}.dcm") as tmp:
                        ds.save_as(tmp, enforce_file_format=True)
                    count += 1
        return PullResult(folder=out, n_instances=count, series=tuple(series))

    def push(self, items: Iterable[Dataset | str | os.PathLike]) -> list[str]:
        """Store instances (STOW-RS): datasets, DICOM files or folders of them. Returns the SOP
        Instance UIDs the PACS accepted; raises :class:`PacsError` if it rejected any."""
        stored: list[str] = []
        for batch in _batches(_iter_datasets(items)):
            with self._errors(f"storing {len(batch)} instance(s)"):
                answer = self._client.store_instances(batch)
            failed = answer.get("FailedSOPSequence") or []
            if failed:
                reasons = ", ".join(
                    f"{item.get('ReferencedSOPInstanceUID')} (reason 0x{int(item.get('FailureReason', 0)):04X})"
                    for item in failed[:5]
                )
                raise PacsError(
                    f"the PACS at {self.url} rejected {len(failed)} instance(s): {reasons}"
                )
            stored += [
                str(i.ReferencedSOPInstanceUID) for i in answer.get("ReferencedSOPSequence", [])
            ]
        if not stored:
            raise PacsError("no DICOM instances to push")
        return stored


def _batches(datasets: Iterator[Dataset]) -> Iterator[list[Dataset]]:
    """Groups of datasets whose pixel data stay under :data:`STOW_BATCH_BYTES`."""
    batch: list[Dataset] = []
    size = 0
    for ds in datasets:
        n = len(ds.get("PixelData") or b"") + 4096
        if batch and size + n > STOW_BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(ds)
        size += n
    if batch:
        yield batch
