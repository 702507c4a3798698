"""Headless Chromium for the browser tests (Debian's package, driven by Playwright).

In CI (``NENSCOPE_CI`` set by .ci/run) a missing Chromium fails the test; elsewhere it skips.
Screenshots are copied to ``$NENSCOPE_ARTEFACTS`` when that is set (CI keeps them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from nenscope.report import find_chromium


def chromium_or_skip() -> str:
    """Path of Chromium (``$NENSCOPE_CHROMIUM`` first); fail in CI, skip elsewhere."""
    path = find_chromium()
    if path is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("NENSCOPE_CI"):
            pytest.fail(f"{message}: .ci/run must install it")
        pytest.skip(message)
    return path


def chromium_browser(args: Sequence[str] = ()) -> Iterator:
    """A Playwright Chromium browser for a fixture (``yield from chromium_browser()``)."""
    from playwright.sync_api import sync_playwright

    path = chromium_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=list(args))
        yield browser
        browser.close()


def keep_artefact(path: Path, name: str) -> None:
    """Copy ``path`` to ``$NENSCOPE_ARTEFACTS/name`` when that folder is set."""
    if os.environ.get("NENSCOPE_ARTEFACTS"):
        target = Path(os.environ["NENSCOPE_ARTEFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
