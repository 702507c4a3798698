"""Cached access to the simulator's data files (``simulation/data/*.toml``)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=16)
def load(name: str) -> dict[str, Any]:
    """Parse ``data/<name>.toml`` once."""
    text = resources.files("nenscope.simulation").joinpath(f"data/{name}.toml").read_text("utf-8")
    return tomllib.loads(text)
