"""The HTTP side of a DICOMweb connection: authentication, retries with back-off, timeouts and
one-line errors.

Every request goes through one :class:`requests.Session` whose adapter retries (urllib3
``Retry``): refused or dropped connections and the answers 429, 502, 503, 504 are tried again
after ``backoff_s * 2**(n-1)`` seconds (the server's ``Retry-After`` wins when it sends one).
What is still failing afterwards becomes a :class:`PacsError` that says what to fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nenscope.errors import NenscopeError

RETRY_STATUS = (429, 502, 503, 504)
ENV_USER, ENV_PASSWORD, ENV_TOKEN = (
    "NENSCOPE_PACS_USER",
    "NENSCOPE_PACS_PASSWORD",
    "NENSCOPE_PACS_TOKEN",
)


class PacsError(NenscopeError):
    """The PACS is unreachable, refused the request, or answered with an error."""


@dataclass(frozen=True)
class PacsAuth:
    """Credentials for a DICOMweb server: HTTP Basic (``user`` + ``password``) or a bearer
    ``token`` (OAuth 2 / OpenID Connect access token, RFC 6750), or nothing.

    Attributes:
        user: user name for HTTP Basic authentication (RFC 7617).
        password: its password.
        token: bearer token sent as ``Authorization: Bearer <token>``.
    """

    user: str | None = None
    password: str | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        if self.token and (self.user or self.password):
            raise PacsError("give either a user and password or a token, not both")
        if bool(self.user) != bool(self.password):
            raise PacsError("HTTP Basic authentication needs both a user and a password")

    @classmethod
    def from_env(cls) -> PacsAuth:
        """Credentials from ``NENSCOPE_PACS_USER``/``NENSCOPE_PACS_PASSWORD`` or
        ``NENSCOPE_PACS_TOKEN`` (empty when none is set)."""
        return cls(
            user=os.environ.get(ENV_USER) or None,
            password=os.environ.get(ENV_PASSWORD) or None,
            token=os.environ.get(ENV_TOKEN) or None,
        )

    def __repr__(self) -> str:  # never print a secret
        kind = "token" if self.token else ("basic" if self.user else "none")
        return f"PacsAuth({kind}{f', user={self.user!r}' if self.user else ''})"


class _TimeoutSession(requests.Session):
    """A session whose requests time out after ``timeout_s`` unless the caller says otherwise."""

    def __init__(self, timeout_s: float):
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout_s
        return super().request(method, url, **kwargs)


def make_session(
    auth: PacsAuth | None = None,
    *,
    retries: int = 3,
    backoff_s: float = 0.5,
    timeout_s: float = 60.0,
) -> requests.Session:
    """A :class:`requests.Session` with ``auth``, ``retries`` tries after the first (connection
    errors and HTTP 429/502/503/504, every method: STOW-RS is idempotent per SOP Instance UID),
    exponential back-off from ``backoff_s`` seconds and a ``timeout_s`` per request."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff_s,
        status_forcelist=RETRY_STATUS,
        allowed_methods=None,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = _TimeoutSession(timeout_s)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    auth = auth or PacsAuth()
    if auth.user:
        session.auth = (auth.user, auth.password or "")
    elif auth.token:
        session.headers["Authorization"] = f"Bearer {auth.token}"
    return session


def _http_message(url: str, what: str, exc: requests.HTTPError, tries: int) -> str:
    response = exc.response
    code = response.status_code if response is not None else None
    if code == 401:
        return (
            f"the PACS at {url} refused the credentials for {what} (HTTP 401): check --user and "
            "--password (or --token, or NENSCOPE_PACS_USER/NENSCOPE_PACS_PASSWORD/NENSCOPE_PACS_TOKEN)"
        )
    if code == 403:
        return f"the PACS at {url} forbids {what} for this user (HTTP 403): ask its administrator"
    if code == 404:
        return (
            f"the PACS at {url} has no such resource for {what} (HTTP 404): check --url and the UID"
        )
    reason = getattr(response, "reason", "") or ""
    body = (getattr(response, "text", "") or "").strip().replace("\n", " ")[:200]
    after = f" after {tries} tries" if code in RETRY_STATUS else ""
    return f"the PACS at {url} answered HTTP {code} {reason} to {what}{after}" + (
        f": {body}" if body else ""
    )


@contextmanager
def translate_errors(url: str, what: str, *, retries: int, timeout_s: float) -> Iterator[None]:
    """Turn what ``requests`` raises inside the block into a :class:`PacsError` naming ``url``
    and ``what`` was being done, with a hint to fix it."""
    try:
        yield
    except requests.HTTPError as exc:
        raise PacsError(_http_message(url, what, exc, retries + 1)) from exc
    except (requests.Timeout, requests.ConnectionError) as exc:
        if _timed_out(exc):
            raise PacsError(
                f"the PACS at {url} did not answer {what} within {timeout_s:g} s "
                f"({retries + 1} tries)"
            ) from exc
        raise PacsError(
            f"cannot reach the PACS at {url} for {what} after {retries + 1} tries: is it running, "
            f"and is --url right? ({_root_cause(exc)})"
        ) from exc
    except requests.RequestException as exc:
        raise PacsError(f"request to the PACS at {url} for {what} failed: {exc}") from exc


def _timed_out(exc: requests.RequestException) -> bool:
    """A timeout, also when urllib3 gave up retrying one (requests then says ConnectionError)."""
    inner = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(inner, urllib3.exceptions.NewConnectionError):  # a TimeoutError subclass
        return False
    return isinstance(exc, requests.Timeout) or isinstance(inner, urllib3.exceptions.TimeoutError)


def _root_cause(exc: requests.ConnectionError) -> str:
    """The innermost reason of a connection failure, e.g. ``[Errno 111] Connection refused``."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", None) or inner)
    return text.rsplit(": ", 1)[-1]
