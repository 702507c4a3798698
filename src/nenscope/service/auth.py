"""Bearer-token authentication and roles.

Every ``/api`` endpoint depends on :func:`current_user` (401 without a valid token) or on
:func:`require` (403 when the user's role is not allowed). Tokens are compared by their
SHA-256 in the store.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nenscope.store import users
from nenscope.store.models import Role, User

__all__ = ["current_user", "require"]

_bearer = HTTPBearer(auto_error=False, description="token from `nenscope users add`")


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> User:
    """The user of the request's bearer token (401 if missing or unknown)."""
    if credentials is None or not credentials.credentials:
        raise _unauthorised("missing bearer token")
    with request.app.state.store.transaction() as session:
        user = users.user_by_token(session, credentials.credentials)
    if user is None:
        raise _unauthorised("invalid token")
    return user


def require(*roles: Role) -> Callable[..., User]:
    """A dependency admitting only users with one of ``roles``."""

    def dependency(user: User = Depends(current_user)) -> User:
        if user.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise HTTPException(403, f"this needs the role {allowed} (you are {user.role.value})")
        return user

    return dependency
