"""Small helpers shared by the sub-command modules: the consoles and JSON on stdout."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from nenscope.jobs._json import to_json

# Wide enough for the lesion table when piped (Rich assumes 80 columns without a terminal).
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print data as JSON on stdout (no Rich markup, so it pipes cleanly)."""
    print(to_json(obj))
