"""Small helpers shared by the sub-command modules: the consoles and JSON on stdout."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

# Wide enough for the lesion table when piped (Rich assumes 80 columns without a terminal).
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print data as JSON on stdout (no Rich markup, so it pipes cleanly)."""
    from nenscope.jobs._json import to_json  # NumPy: not imported for ``--help``

    print(to_json(obj))


#: ``--keep``: an earlier result set in ``--out`` is kept and the run refused (result folders).
KeepOption = Annotated[
    bool,
    typer.Option(
        "--keep", help="Keep an earlier result set in OUT: refuse to run instead of replacing it."
    ),
]
#: ``--allow-mismatch``: images of different patients or studies accepted, with a warning.
AllowMismatchOption = Annotated[
    bool,
    typer.Option(
        "--allow-mismatch",
        help="Accept images of another patient or study (slices, CT, FDG, time points) for "
        "research data, with a warning; refused otherwise.",
    ),
]
