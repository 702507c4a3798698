"""How values and pages are written: one number formatter for the reports and the command line,
one Jinja environment for the report templates (``nenscope/report/templates``)."""

from __future__ import annotations

import math
import sys
from functools import cache
from numbers import Number
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

MISSING = "—"


def fmt(value: Any, spec: str = "g", unit: str = "", *, missing: str = MISSING) -> str:
    """``value`` formatted with ``spec``, then ``unit``; ``missing`` for an absent value.

    Absent: None, a Jinja undefined or a non-finite float. A list or tuple is written as its
    items joined by "×" (a shape or a voxel size); anything but a number (a name, a date) as
    its ``str``.

    >>> fmt(2.345, ".1f", " ml"), fmt(None), fmt([4.0, 4.0, 3.27], ".3g"), fmt([128, 96], "d")
    ('2.3 ml', '—', '4×4×3.27', '128×96')
    """
    if value is None or _is_jinja_undefined(value):
        return missing
    if isinstance(value, float) and not math.isfinite(value):
        return missing
    if isinstance(value, list | tuple):
        return "×".join(fmt(v, spec, missing=missing) for v in value) + unit
    if isinstance(value, Number):
        return f"{format(value, spec)}{unit}"
    return f"{value}{unit}"


def _is_jinja_undefined(value: Any) -> bool:
    """True for a Jinja ``Undefined``; one can exist only once jinja2 is imported, so the
    command line (which formats numbers but renders no template) does not import it."""
    jinja2 = sys.modules.get("jinja2")
    return jinja2 is not None and isinstance(value, jinja2.Undefined)


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("nenscope.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )


def render_template(name: str, **context: Any) -> str:
    """Render the report template ``name`` (HTML escaped) with ``context``."""
    return _environment().get_template(name).render(**context)
