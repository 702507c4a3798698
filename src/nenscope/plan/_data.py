"""Cached access to the data files of :mod:`nenscope.plan` (``plan/data/*.toml``)."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any


@functools.cache
def load(name: str) -> dict[str, Any]:
    """Parse ``data/<name>.toml`` once."""
    text = resources.files("nenscope.plan").joinpath(f"data/{name}.toml").read_text("utf-8")
    return tomllib.loads(text)
