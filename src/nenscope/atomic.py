"""Atomic output: a file, or a whole result folder, appears complete or not at all.

* :func:`atomic_path` — one file written to a temporary beside the target and renamed into
  place, so a reader (or a crash) never sees a half-written findings.json, report or SEG;
* :func:`result_folder` — a command's result set written into a temporary folder beside the
  target folder and renamed into place only when every output is complete. An earlier result
  set at the target is replaced as a whole (never mixed with the new one), or kept with
  ``keep`` (then the run is refused before it starts); on an error, an interrupt (SIGINT) or a
  termination (SIGTERM, turned into an exception by the CLI) the partial folder is removed;
* :func:`check_output_folder` — the same checks before a long computation starts, so an
  impossible ``--out`` fails at once;
* :func:`staged_input` — inputs fetched for a run (a PACS pull) kept beside the result set and
  moved into it once it exists.

A result folder carries a marker file, :data:`RESULT_MARKER`; a non-empty folder without it
(the input study, a home directory...) is never replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nenscope import __version__
from nenscope.errors import NenscopeError

#: Marker file of a nenscope result set: only a folder holding it (or an empty one) is replaced.
RESULT_MARKER = ".nenscope-result"


def _blocking_ancestor(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a folder (``--out`` under a file)."""
    for parent in reversed(path.absolute().parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def check_output_file(path: str | os.PathLike) -> Path:
    """``path`` can be written as a file: no ancestor is a regular file and it is not a folder.

    Raises:
        NenscopeError: naming the file in the way.
    """
    target = Path(path)
    blocker = _blocking_ancestor(target)
    if blocker is not None:
        raise NenscopeError(f"cannot write {target}: {blocker} is a file, not a folder")
    if target.is_dir():
        raise NenscopeError(f"cannot write {target}: it is a folder, not a file")
    return target


def check_output_folder(path: str | os.PathLike, *, keep: bool = False) -> Path:
    """``path`` can receive a result folder: no ancestor is a file, it is not a file, and with
    ``keep`` it does not hold an earlier result set.

    Raises:
        NenscopeError: naming what is in the way.
    """
    target = Path(path)
    blocker = _blocking_ancestor(target)
    if blocker is not None:
        raise NenscopeError(f"--out {target}: {blocker} is a file, not a folder")
    if target.exists() and not target.is_dir():
        raise NenscopeError(f"--out {target} is a file; give a folder for the results")
    if target.is_dir() and any(target.iterdir()):
        if not (target / RESULT_MARKER).is_file():
            raise NenscopeError(
                f"--out {target} is a folder that does not hold a nenscope result set (no "
                f"{RESULT_MARKER}): it is not replaced; choose a new or empty folder"
            )
        if keep:
            raise NenscopeError(
                f"--out {target} holds an earlier result set and --keep was given: it is left "
                "as it is; choose another --out, or drop --keep to replace it as a whole"
            )
    return target


@contextmanager
def result_folder(path: str | os.PathLike, *, keep: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success it becomes ``path``.

    An earlier result set at ``path`` is replaced as a whole (moved aside, the new one renamed
    in, the old one deleted), or, with ``keep``, refused before anything is written; a
    non-empty folder that is not a result set is refused. On any
    exception, ``KeyboardInterrupt`` and other ``BaseException`` included, the temporary
    folder is removed and ``path`` is left as it was.
    """
    target = check_output_folder(path, keep=keep)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    try:
        yield tmp
        (tmp / RESULT_MARKER).write_text(f"nenscope {__version__} result set\n", "utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, old / "previous")
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def staged_input(target: str | os.PathLike, name: str) -> Iterator[Path]:
    """Yield ``<temporary folder beside target>/name`` for inputs fetched before a run that
    writes the result set ``target`` (a study pulled from a PACS). After the block they are
    moved to ``target/name`` when the result set exists; on an error they are removed."""
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target_path.parent, prefix=f".{target_path.name}.{name}-"))
    try:
        yield staging / name
        if (staging / name).exists() and target_path.is_dir():
            os.replace(staging / name, target_path / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes, e.g. ``.nii.gz``); on success
    rename it to ``path``, on error remove it.

    Raises:
        NenscopeError: an ancestor of ``path`` is a file, or ``path`` is a folder.

    Example
    -------
    >>> with atomic_path(tmp / "dose.nii.gz") as p:   # doctest: +SKIP
    ...     nib.save(img, p)
    """
    target = check_output_file(path)
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
