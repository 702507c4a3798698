"""JSON text of the jobs' records: NumPy scalars and arrays, datetimes; no NaN (strict JSON)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """Serialise records that may hold NumPy scalars/arrays and datetimes (indent 2).

    NaN and infinity are refused (``ValueError``): the records store a missing value as None.
    """
    return json.dumps(obj, indent=2, default=_default, allow_nan=False)
