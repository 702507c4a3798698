"""Series discovery: walk a folder or a zip of DICOM files and group the files by series.

Headers are parsed once (pixel data are deferred: pydicom re-reads them from the file only
when the series is loaded), so discovering a folder costs one header parse per file. Files
that are not DICOM, are truncated, or lack the identifiers needed to group them are listed in
``Discovery.skipped_files`` with the reason; they never stop the rest from loading.

Only regular files are opened: named pipes, sockets, devices and symbolic-link loops are
listed as skipped (opening a pipe would wait forever). A zip is read in memory, never
extracted, within the bounds of :mod:`nenscope.imaging.limits` (member count, sizes,
compression ratio); a member whose path would leave the archive is not read.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_float, get_str
from nenscope.imaging._dicom import n_frames as _n_frames
from nenscope.imaging.limits import (
    MAX_ZIP_MEMBER_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    MAX_ZIP_TOTAL_BYTES,
    ZIP_RATIO_MIN_BYTES,
)

# Elements larger than this are read from the file only when accessed (pixel data).
_DEFER_SIZE = "4 KB"

# SOP classes that hold no image but belong with the study.
_RTSTRUCT_SOP = "1.2.840.10008.5.1.4.1.1.481.3"
_SEG_SOP = "1.2.840.10008.5.1.4.1.1.66.4"
_DICOMDIR_SOP = "1.2.840.10008.1.3.10"


class SkipReason(str):
    """Why a path found while walking is not opened (not a regular file)."""


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not used, and why (with its series when its header could be read)."""

    path: str
    reason: str
    series_instance_uid: str | None = None


@dataclass
class SeriesInfo:
    """All instances of one series (headers; pixel data are read on load).

    Attributes:
        series_instance_uid: SeriesInstanceUID (0020,000E).
        modality: Modality (0008,0060): ``"PT"``, ``"CT"``, ``"NM"``, ``"RTSTRUCT"``, ``"SEG"``...
        kind: what nenscope can do with it: ``"PT"``, ``"CT"``, ``"NM"`` (reconstructed SPECT),
            ``"NM-planar"`` (planar, whole-body or raw projections: not a volume),
            ``"RTSTRUCT"``, ``"SEG"`` or ``"other"``.
        description: SeriesDescription.
        study_instance_uid, frame_of_reference_uid: identifiers (first instance).
        datasets: one header per instance, in discovery order.
        sources: the file (or ``zip!member``) of each dataset.
    """

    series_instance_uid: str
    modality: str
    kind: str
    description: str | None
    study_instance_uid: str | None
    frame_of_reference_uid: str | None
    datasets: list[Dataset] = field(default_factory=list, repr=False)
    sources: list[str] = field(default_factory=list, repr=False)

    @property
    def n_instances(self) -> int:
        """Number of files (instances) in the series."""
        return len(self.datasets)

    @property
    def n_frames(self) -> int:
        """Total number of frames (multi-frame instances count each frame)."""
        total = 0
        for ds in self.datasets:
            nf = get_float(ds, "NumberOfFrames")
            total += int(nf) if nf and nf >= 1 else 1
        return total


@dataclass
class Discovery:
    """The result of :func:`discover`: series found and files skipped."""

    root: str
    series: list[SeriesInfo]
    skipped_files: list[SkippedFile]

    def get(self, series_uid: str) -> SeriesInfo:
        """Return the series with this SeriesInstanceUID (NenscopeError when absent)."""
        for s in self.series:
            if s.series_instance_uid == series_uid:
                return s
        raise NenscopeError(f"no series with SeriesInstanceUID {series_uid} in {self.root}")

    def of_kind(self, *kinds: str) -> list[SeriesInfo]:
        """Series whose ``kind`` is one of ``kinds``, in discovery order."""
        return [s for s in self.series if s.kind in kinds]


def _classify(ds: Dataset, modality: str) -> str:
    sop = get_str(ds, "SOPClassUID") or ""
    if modality == "RTSTRUCT" or sop == _RTSTRUCT_SOP:
        return "RTSTRUCT"
    if modality == "SEG" or sop == _SEG_SOP:
        return "SEG"
    if modality in ("PT", "CT"):
        return modality
    if modality == "NM":
        image_type = [t.upper() for t in (get_str(ds, "ImageType") or "").split("\\")]
        if any(t.startswith("RECON") for t in image_type):
            return "NM"
        # Reconstructed SPECT sometimes lacks the RECON value but carries a slice geometry.
        nf = get_float(ds, "NumberOfFrames") or 1
        has_slices = get_float(ds, "NumberOfSlices") or get_float(ds, "SpacingBetweenSlices")
        if (
            nf > 1
            and has_slices
            and not any(t in ("STATIC", "WHOLE BODY", "DYNAMIC") for t in image_type)
        ):
            if "TOMO" not in image_type:  # raw TOMO projections have NumberOfDetectors etc.
                return "NM"
        return "NM-planar"
    return "other"


def _check_pixel_length(ds: Dataset) -> str | None:
    """Reason string when uncompressed pixel data are shorter than the header says."""
    if "PixelData" not in ds:
        return None
    try:
        ts = ds.file_meta.TransferSyntaxUID
        if ts.is_compressed:
            return None
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits = int(ds.BitsAllocated)
        spp = int(ds.get("SamplesPerPixel", 1) or 1)
        nf = _n_frames(ds)
        expected = rows * cols * spp * nf * bits // 8
        elem = ds.get_item("PixelData")
        length = elem.length if hasattr(elem, "length") and elem.value is None else None
        if length is None:
            length = len(ds.PixelData)
        if length < expected:
            return f"pixel data truncated ({length} of {expected} bytes)"
    except Exception as exc:  # any header inconsistency: the file cannot be decoded
        return f"unreadable image header ({type(exc).__name__}: {exc})"
    return None


def _read(fp, name: str, *, defer: bool) -> Dataset:
    try:
        return pydicom.dcmread(fp, defer_size=_DEFER_SIZE if defer else None)
    except InvalidDicomError:
        if hasattr(fp, "seek"):
            fp.seek(0)
        # Old files without the 128-byte preamble: accept only if they look like images.
        ds = pydicom.dcmread(fp, force=True, defer_size=_DEFER_SIZE if defer else None)
        if "SOPClassUID" not in ds and "Modality" not in ds:
            raise
        return ds


def _zip_member_problem(info: zipfile.ZipInfo, total: int) -> str | None:
    """Why a zip member is not read (path outside the archive, size, ratio), or ``None``."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
        return "member path leaves the archive (absolute or '..'): not read"
    if info.file_size > MAX_ZIP_MEMBER_BYTES:
        return f"member of {info.file_size} bytes exceeds the {MAX_ZIP_MEMBER_BYTES} byte limit"
    if total > MAX_ZIP_TOTAL_BYTES:
        return f"archive content beyond {MAX_ZIP_TOTAL_BYTES} bytes: not read"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > ZIP_RATIO_MIN_BYTES and ratio > MAX_ZIP_RATIO:
        return f"compression ratio {ratio:.0f}:1 exceeds {MAX_ZIP_RATIO:.0f}:1 (zip bomb guard)"
    return None


def _iter_zip(root: Path):
    with zipfile.ZipFile(root) as zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise NenscopeError(
                f"{root} holds {len(members)} files; the limit is {MAX_ZIP_MEMBERS} per archive"
            )
        total = 0
        for info in sorted(members, key=lambda i: i.filename):
            name = f"{root}!{info.filename}"
            total += info.file_size
            problem = _zip_member_problem(info, total)
            if problem:
                yield name, SkipReason(problem)
                continue
            try:
                data = zf.read(info)  # reads at most file_size bytes, then checks the CRC
            except Exception as exc:
                yield name, exc
                continue
            yield name, io.BytesIO(data)


def _not_regular(path: str) -> str | None:
    """Why ``path`` is not a regular file that can be read without blocking, or ``None``.

    FIFOs, sockets and devices would block or stream forever; a symlink loop cannot be
    followed."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = (
        "named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "socket"
        if stat.S_ISSOCK(mode)
        else "device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return f"{kind}: not read"


def _iter_files(root: Path):
    """Yield (display name, opener or the reason it is skipped) for each candidate file under
    ``root`` (folder/zip/file). Only regular files are opened; zip members are bounded by
    :mod:`nenscope.imaging.limits`."""
    if root.is_file() and zipfile.is_zipfile(root):
        yield from _iter_zip(root)
        return
    if root.is_file():
        yield str(root), str(root)
        return
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow directory links
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            path = os.path.join(dirpath, fn)
            problem = _not_regular(path)
            yield path, (SkipReason(problem) if problem else path)


def discover(
    path: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None
) -> Discovery:
    """Find every DICOM series under ``path`` (a folder, a zip file or a single file).

    Args:
        path: folder (walked recursively), ``.zip`` archive, or one DICOM file.

        progress: called as ``progress(done, total)`` after each file (e.g. a progress bar).

    Returns:
        :class:`Discovery` with one :class:`SeriesInfo` per SeriesInstanceUID (ordered by
        study, modality and series number) and the files skipped with their reasons
        (not DICOM, truncated, DICOMDIR, no SeriesInstanceUID, duplicate SOPInstanceUID).

    Raises:
        NenscopeError: ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise NenscopeError(f"{root} does not exist")
    groups: dict[str, SeriesInfo] = {}
    skipped: list[SkippedFile] = []
    seen_sop: set[str] = set()
    order: dict[str, tuple] = {}
    entries = list(_iter_files(root)) if progress is not None else _iter_files(root)
    total = len(entries) if progress is not None else 0
    for done, (name, opener) in enumerate(entries, start=1):
        if progress is not None:
            progress(done, total)
        if isinstance(opener, SkipReason):
            skipped.append(SkippedFile(name, str(opener)))
            continue
        if isinstance(opener, Exception):
            skipped.append(SkippedFile(name, f"cannot read from archive: {opener}"))
            continue
        try:
            ds = _read(opener, name, defer=isinstance(opener, str))
        except Exception as exc:
            reason = (
                "not a DICOM file"
                if isinstance(exc, InvalidDicomError)
                else (f"unreadable DICOM ({type(exc).__name__}: {str(exc)[:120]})")
            )
            skipped.append(SkippedFile(name, reason))
            continue
        if "DirectoryRecordSequence" in ds or get_str(ds, "SOPClassUID") == _DICOMDIR_SOP:
            skipped.append(
                SkippedFile(name, "DICOMDIR index (the files it lists are read directly)")
            )
            continue
        uid = get_str(ds, "SeriesInstanceUID")
        modality = (get_str(ds, "Modality") or "").upper()
        if uid is None:
            skipped.append(SkippedFile(name, "no SeriesInstanceUID (0020,000E)"))
            continue
        sop = get_str(ds, "SOPInstanceUID")
        if sop is not None:
            if sop in seen_sop:
                skipped.append(SkippedFile(name, f"duplicate SOPInstanceUID {sop}"))
                continue
            seen_sop.add(sop)
        bad = _check_pixel_length(ds)
        if bad:
            skipped.append(SkippedFile(name, bad, uid))
            continue
        info = groups.get(uid)
        if info is None:
            info = SeriesInfo(
                series_instance_uid=uid,
                modality=modality or "?",
                kind=_classify(ds, modality),
                description=get_str(ds, "SeriesDescription"),
                study_instance_uid=get_str(ds, "StudyInstanceUID"),
                frame_of_reference_uid=get_str(ds, "FrameOfReferenceUID"),
            )
            groups[uid] = info
            number = get_float(ds, "SeriesNumber")
            order[uid] = (
                info.study_instance_uid or "",
                modality,
                number if number is not None else 1e9,
                uid,
            )
        info.datasets.append(ds)
        info.sources.append(name)
    series = sorted(groups.values(), key=lambda s: order[s.series_instance_uid])
    return Discovery(root=str(root), series=series, skipped_files=skipped)
