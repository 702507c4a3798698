"""Uploads: a multipart stream of DICOM files or zips, written only under the data directory.

The request body is parsed as it arrives (never buffered whole, never spooled to the system's
temporary folder) into ``incoming/<random>/``; the body size is limited while it streams.
Zips are checked before anything is extracted: a member with an absolute path, a drive
letter, a ``..`` component, a symbolic-link mode or encryption refuses the whole upload, as
do more files or more unpacked bytes than allowed. Member names are never used as file
names: every file is written as ``<n>.dcm`` in one flat folder, so no path can leave it.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from nenscope.errors import NenscopeError

__all__ = ["UploadError", "UploadLimits", "discard", "receive", "unpack"]

_CHUNK = 1024 * 1024
_FIELD = "files"
_DRIVE = re.compile(r"^[A-Za-z]:")


class UploadError(NenscopeError):
    """A refused upload; ``status_code`` is the HTTP status to answer (400, 413 or 415)."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class UploadLimits:
    """Largest request body and unpacked study (bytes), most files."""

    max_upload_bytes: int
    max_unpacked_bytes: int
    max_files: int


class _Parts:
    """python-multipart callbacks writing each file part of field ``files`` to ``dest``."""

    def __init__(self, dest: Path, limits: UploadLimits):
        self.dest = dest
        self.limits = limits
        self.paths: list[Path] = []
        self._out: IO[bytes] | None = None
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._open,
            "on_part_data": self._data,
            "on_part_end": self._close,
        }

    def _add(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _open(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") != _FIELD.encode() or b"filename" not in params:
            return  # other fields are ignored
        if len(self.paths) >= self.limits.max_files:
            raise UploadError(f"more than {self.limits.max_files} files in one upload", 413)
        path = self.dest / f"{len(self.paths) + 1:06d}.part"
        self.paths.append(path)
        self._out = path.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self._out.write(data[start:end])

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def close(self) -> None:
        self._close()


async def receive(request: Request, dest: Path, limits: UploadLimits) -> list[Path]:
    """Stream the multipart body of ``request`` into ``dest``; the files received.

    Raises:
        UploadError: not multipart (415), over the size or file limit (413), malformed or
            without a file in field ``files`` (400).
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError("send the files as multipart/form-data in the field 'files'", 415)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes:
        raise UploadError(_too_large(limits), 413)
    dest.mkdir(parents=True, exist_ok=True)
    parts = _Parts(dest, limits)
    parser = MultipartParser(params[b"boundary"], parts.callbacks())
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_upload_bytes:
                raise UploadError(_too_large(limits), 413)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(f"malformed multipart body ({type(exc).__name__})") from None
    except ClientDisconnect:
        raise UploadError("the upload was interrupted") from None
    finally:
        parts.close()
    if not parts.paths:
        raise UploadError("no file in the field 'files': send DICOM files or a zip")
    return parts.paths


def _too_large(limits: UploadLimits) -> str:
    return f"the upload exceeds {limits.max_upload_bytes / 2**20:.0f} MiB (--max-upload-mb)"


def _refusal(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is refused, or ``None``."""
    name = info.filename
    posix = name.replace("\\", "/")
    if "\x00" in name or posix.startswith("/") or _DRIVE.match(posix):
        return "has an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "leaves its folder (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


class _Budget:
    """Counts files and bytes written against the limits."""

    def __init__(self, dest: Path, limits: UploadLimits):
        self.dest, self.limits = dest, limits
        self.n_files = 0
        self.n_bytes = 0

    def next_path(self) -> Path:
        self.n_files += 1
        if self.n_files > self.limits.max_files:
            raise UploadError(f"more than {self.limits.max_files} files in one upload", 413)
        return self.dest / f"{self.n_files:06d}.dcm"

    def count(self, n_bytes: int) -> None:
        self.n_bytes += n_bytes
        if self.n_bytes > self.limits.max_unpacked_bytes:
            raise UploadError(
                f"the study exceeds {self.limits.max_unpacked_bytes / 2**20:.0f} MiB once "
                "unpacked (--max-unpacked-mb)",
                413,
            )

    def copy(self, src: IO[bytes], dst: IO[bytes]) -> None:
        while chunk := src.read(_CHUNK):
            self.count(len(chunk))
            dst.write(chunk)


def _extract(archive: Path, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            for i, info in enumerate(members):  # check every member before writing any
                why = _refusal(info)
                if why:
                    raise UploadError(f"zip member {i + 1} {why}: the zip is refused")
            if sum(i.file_size for i in members) > budget.limits.max_unpacked_bytes:
                raise UploadError("the zip unpacks to more than --max-unpacked-mb", 413)
            for info in members:
                with zf.open(info) as src, budget.next_path().open("wb") as dst:
                    budget.copy(src, dst)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, EOFError, OSError) as exc:
        raise UploadError(f"unreadable zip ({type(exc).__name__})") from None


def unpack(received: list[Path], dest: Path, limits: UploadLimits) -> tuple[int, int]:
    """Move the received files (zips extracted) into the flat folder ``dest``.

    Returns (number of files, bytes). Received files are moved (DICOM) or deleted once
    extracted (zip).
    """
    dest.mkdir(parents=True, exist_ok=True)
    budget = _Budget(dest, limits)
    for path in received:
        if zipfile.is_zipfile(path):
            _extract(path, budget)
            path.unlink()
        else:
            budget.count(path.stat().st_size)
            path.rename(budget.next_path())
    return budget.n_files, budget.n_bytes


def discard(folder: Path) -> None:
    """Remove an upload's working folder (after success or failure)."""
    shutil.rmtree(folder, ignore_errors=True)
