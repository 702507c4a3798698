"""Exceptions that carry a message meant for the user.

Every front end (CLI, service, cohort runner) turns a :class:`NenscopeError` into a one-line
message; anything else is a bug and keeps its traceback.
"""

import functools


class NenscopeError(Exception):
    """Bad input or an impossible request, explained in one line for the user."""


class MissingDataError(NenscopeError):
    """A value needed for a computation is absent (names the DICOM tag and the CLI option)."""

    def __init__(self, what: str, *, tag: str | None = None, option: str | None = None):
        parts = [f"missing {what}"]
        if tag:
            parts.append(f"DICOM tag {tag} is absent or empty")
        if option:
            parts.append(f"supply it with {option}")
        super().__init__("; ".join(parts))
        self.what = what
        self.tag = tag
        self.option = option

    def __reduce__(self) -> tuple:
        """Pickled as constructed (a study loaded in a child process raises it there)."""
        return (functools.partial(type(self), tag=self.tag, option=self.option), (self.what,))
