"""Domain errors raised by services.

Each error carries a message a user can act on: what is wrong and how to fix it.
Web layers map these to HTTP status codes in one place; the CLI prints them and exits non-zero.
"""

from __future__ import annotations


class DDAError(Exception):
    """Base class of every error DDA raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")

    def to_dict(self) -> dict[str, str]:
        data = {"code": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return data


class NotFound(DDAError):
    """A named thing (file, record, model, key) does not exist."""

    code = "not_found"


class Conflict(DDAError):
    """The request clashes with the current state (duplicate name, busy resource)."""

    code = "conflict"


class InvalidInput(DDAError):
    """Input is malformed, unsafe or outside the allowed limits."""

    code = "invalid_input"


class PermissionDenied(DDAError):
    """The caller may not do this."""

    code = "permission_denied"


class Unavailable(DDAError):
    """A dependency (server, optional package, device) cannot be reached or is not installed."""

    code = "unavailable"


class NotLanded(Unavailable):
    """A capability whose implementation has not been written yet."""

    code = "not_implemented"
