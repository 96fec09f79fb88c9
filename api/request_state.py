"""What one GraphQL request has learned on its way through the pipeline (api/pipeline.py): one
typed record in the ASGI scope, instead of loose names on `request.state`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.context import Context
    from api.operations import Operation

_KEY = "newsroom.request"


@dataclass(slots=True)
class RequestState:
    # Set by api/cors.py: the request came from another site's page.
    foreign_origin: bool = False
    # Set by api/doorway.py: the request has taken its place in the address's rate limit.
    rate_counted: bool = False
    operation: Operation | None = None
    operation_name: str | None = None
    # The text of an automatic persisted query that arrived by its hash.
    persisted_query: str | None = None
    context: Context | None = None
    # Whether the answer holds errors (True until an execution says otherwise: nothing stored).
    failed: bool = True
    # The request never ran (it did not parse or validate): GraphQL over HTTP answers 400.
    not_executed: bool = False
    error_codes: list[str] = field(default_factory=list)


def state_of(scope: dict[str, Any] | Any) -> RequestState:
    """The request's record, created on first use. Takes an ASGI scope (a middleware's) or
    anything with one (a Starlette request)."""
    scope = getattr(scope, "scope", scope)
    # In the scope itself, not in its "state": servers may hand every request the same
    # lifespan state dict (asgi-lifespan does, uvicorn copies it), and a request's record must
    # never be another's.
    found = scope.get(_KEY)
    if found is None:
        found = scope[_KEY] = RequestState()
    return found
