"""Errors of the store (both are :class:`~nenscope.errors.NenscopeError`: user-fixable)."""

from __future__ import annotations

from nenscope.errors import NenscopeError

__all__ = ["ConflictError", "ForbiddenError", "NotFoundError"]


class NotFoundError(NenscopeError):
    """No record with this id."""


class ConflictError(NenscopeError):
    """The request contradicts the stored state (a signed review, a duplicate study...)."""


class ForbiddenError(NenscopeError):
    """The user's role does not allow this (e.g. signing without the physician role)."""
