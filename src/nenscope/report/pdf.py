"""HTML → PDF through headless Chromium, when it is installed (never downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from nenscope.errors import NenscopeError

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# Flags for a closed network and a root user (see docs/report.md).
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``$NENSCOPE_CHROMIUM`` first), or None."""
    env = os.environ.get("NENSCOPE_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout_s: float) -> None:
    exe = find_chromium()
    if exe is None:
        raise NenscopeError(
            "--pdf needs headless Chromium: install it (e.g. apt-get install chromium) "
            "or set NENSCOPE_CHROMIUM to its path"
        )
    with tempfile.TemporaryDirectory(prefix="nenscope-chromium-") as profile:
        cmd = [exe, *_FLAGS, f"--user-data-dir={profile}", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise NenscopeError(f"Chromium failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout_s: float = 120.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, with backgrounds); return the PDF path."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
    _run(["--no-pdf-header-footer", f"--print-to-pdf={tmp}", html_path.as_uri()], timeout_s)
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise NenscopeError("Chromium wrote no PDF")
    os.replace(tmp, pdf_path)
    return pdf_path


def screenshot(
    html_path: Path,
    png_path: Path,
    *,
    width: int = 1200,
    height: int = 2400,
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html_path`` in headless Chromium to a PNG (to check the report by eye)."""
    png_path = Path(png_path).resolve()
    _run(
        [
            f"--screenshot={png_path}",
            f"--window-size={width},{height}",
            Path(html_path).resolve().as_uri(),
        ],
        timeout_s,
    )
    return png_path
