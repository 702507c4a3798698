"""Logging that never carries patient data.

The service logs ids, counts and timings only. Errors that escape a request or a job are
logged as their type and stack frames (file, line, function), never their message, which
could quote a header value such as the patient's name.
"""

from __future__ import annotations

import logging
import traceback

__all__ = ["log", "log_failure"]

log = logging.getLogger("nenscope.service")


def log_failure(what: str, exc: BaseException) -> None:
    """Log an unexpected error by type and frames (no message text)."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    log.error("%s failed with %s (message withheld)\n%s", what, type(exc).__name__, frames)
