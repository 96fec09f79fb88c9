"""Result types shared by mutations: the expected ways a write can fail."""

from __future__ import annotations

import strawberry

from models.errors import InvalidInput


@strawberry.type(description="The input was refused; `field` names the input field at fault.")
class ValidationError:
    field: str
    message: str

    @classmethod
    def of(cls, error: InvalidInput) -> ValidationError:
        """The models' refusal of an input, as mutations answer it."""
        return cls(field=error.field, message=error.message)


@strawberry.type(description="Nothing with that slug or ID exists (or it is not visible to you).")
class NotFound:
    message: str


@strawberry.type(description="Too many writes from this address; try again after the wait.")
class RateLimited:
    retry_after_seconds: int
