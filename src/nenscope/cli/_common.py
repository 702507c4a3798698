"""Small helpers shared by the sub-command modules."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from rich.console import Console

# Wide enough for the lesion table when piped (Rich assumes 80 columns without a terminal).
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """Serialise records that may hold NumPy scalars/arrays and datetimes."""
    return json.dumps(obj, indent=2, default=_default, allow_nan=False)


def print_json(obj: Any) -> None:
    """Print data as JSON on stdout (no Rich markup, so it pipes cleanly)."""
    print(to_json(obj))
