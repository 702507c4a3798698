"""Settings of the web service (``nenscope serve`` options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nenscope.store import default_url

__all__ = ["Settings"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Where the service keeps its data and how much it accepts.

    Attributes:
        data_dir: every file the service writes lies under it (``studies/``, ``analyses/``,
            ``incoming/`` for uploads in progress, ``nenscope.db`` for the default store).
        db_url: SQLAlchemy URL of the store; ``None``: SQLite ``data_dir/nenscope.db``.
        token: bootstrap administrator token (``NENSCOPE_TOKEN``); ``None``: one is
            generated at the first start and printed once.
        max_upload_mb: largest request body of an upload, MiB.
        max_unpacked_mb: largest study once unzipped, MiB (zip bombs stop there).
        max_files: most files in one upload (after unzipping).
        workers: analysis jobs run at the same time (threads).
        demo: load the virtual demo patient (``make demo``'s study) at start-up and queue its
            analysis.
    """

    data_dir: Path
    db_url: str | None = None
    token: str | None = None
    max_upload_mb: float = 2048.0
    max_unpacked_mb: float = 4096.0
    max_files: int = 20_000
    workers: int = 1
    demo: bool = False

    @property
    def database_url(self) -> str:
        """The store URL (SQLite under ``data_dir`` unless ``db_url`` is given)."""
        return self.db_url or default_url(self.data_dir)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * _MB)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * _MB)
