"""Errors that actions raise and the web layer turns into responses."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request the domain refuses, with a message fit for the user."""


class NotFound(DomainError):
    """The row does not exist, or belongs to another company (the two look the same)."""


class PermissionDenied(DomainError):
    """The actor may not do this."""


class ValidationError(DomainError):
    """Bad input: ``errors`` maps each field name to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(DomainError):
    """Someone else changed the row a moment ago (the message says who and what)."""


class Throttled(DomainError):
    """Too many attempts; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
