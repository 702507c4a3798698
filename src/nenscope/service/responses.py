"""Documented error responses (the OpenAPI schema lists each status a route can answer)."""

from __future__ import annotations

from typing import Any

__all__ = ["errors"]

_TEXT = {
    400: "bad input (the message says what to fix)",
    401: "missing or invalid bearer token",
    403: "the user's role does not allow this",
    404: "no such record",
    409: "conflicts with the stored state (signed, not finished, duplicate)",
    413: "upload too large",
    415: "not multipart/form-data",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for ``codes`` (401 is always included)."""
    body = {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}}
        }
    }
    return {c: {"description": _TEXT[c], "content": body} for c in sorted({401, *codes})}
