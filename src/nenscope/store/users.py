"""Users and their bearer tokens (only the token's SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from nenscope.errors import NenscopeError
from nenscope.store.errors import ConflictError
from nenscope.store.models import Role, User

__all__ = ["ADMIN_NAME", "add_user", "ensure_admin", "hash_token", "list_users", "user_by_token"]

#: Name of the bootstrap administrator (``NENSCOPE_TOKEN`` or a token printed at first start).
ADMIN_NAME = "admin"
_MIN_TOKEN_CHARS = 16


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a token, the form in which tokens are stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise NenscopeError(
            f"unknown role {role!r}; choose one of: {', '.join(r.value for r in Role)}"
        ) from None


def add_user(session: Session, name: str, role: str | Role, token: str | None = None) -> str:
    """Create a user; return the bearer token (shown once: only its hash is kept).

    ``token`` is generated (256 random bits, URL-safe) unless given; a given token must have
    at least 16 characters.
    """
    role = _role(role)
    name = name.strip()
    if not name or len(name) > 100:
        raise NenscopeError("a user name has 1 to 100 characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ConflictError(f"user {name!r} exists already")
    token = token or secrets.token_urlsafe(32)
    if len(token) < _MIN_TOKEN_CHARS:
        raise NenscopeError(f"a token has at least {_MIN_TOKEN_CHARS} characters")
    session.add(User(name=name, role=role, token_sha256=hash_token(token)))
    session.flush()
    return token


def user_by_token(session: Session, token: str) -> User | None:
    """The user holding ``token``, or ``None``."""
    return session.scalar(select(User).where(User.token_sha256 == hash_token(token)))


def list_users(session: Session) -> list[User]:
    """Every user, oldest first."""
    return list(session.scalars(select(User).order_by(User.id)))


def ensure_admin(session: Session, token: str | None) -> str | None:
    """Bootstrap the administrator.

    With ``token`` (``NENSCOPE_TOKEN``) the user ``admin`` gets that token (created when
    absent); without it, an ``admin`` is created with a new token only when no user exists.
    Returns the token when a new one was generated (to print once), else ``None``.
    """
    admin = session.scalar(select(User).where(User.name == ADMIN_NAME))
    if token is not None:
        if len(token) < _MIN_TOKEN_CHARS:
            raise NenscopeError(f"NENSCOPE_TOKEN must have at least {_MIN_TOKEN_CHARS} characters")
        if admin is None:
            add_user(session, ADMIN_NAME, Role.admin, token)
        else:
            admin.token_sha256 = hash_token(token)
            admin.role = Role.admin
        return None
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    return add_user(session, ADMIN_NAME, Role.admin)
