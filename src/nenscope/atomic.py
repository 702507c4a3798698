"""Atomic file output: results are written to a temporary file beside the target and renamed
into place, so a reader (or a crash) never sees a half-written findings.json, report or SEG."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes, e.g. ``.nii.gz``); on success
    rename it to ``path``, on error remove it.

    Example
    -------
    >>> with atomic_path(tmp / "dose.nii.gz") as p:   # doctest: +SKIP
    ...     nib.save(img, p)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes)  # writers that check the name see the real suffix
    stem = target.name[: len(target.name) - len(suffix)] if suffix else target.name
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{stem}.", suffix=suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))
