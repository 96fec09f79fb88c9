"""The two expected failures of a write, for every domain: the input is invalid (naming the field
at fault), or the thing to change does not exist. api/results.py turns them into result types."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input; `field` names the input field at fault. Nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFoundError(LookupError):
    """The thing to change does not exist (or, for readers, is not visible)."""
