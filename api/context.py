"""The typed per-request context: the engine, fresh loaders and the request's identity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from api.loaders import Loaders
from models.session import AsyncSession, session_factory
from models.token import Identity
from search.client import SearchClient


@dataclass
class Context:
    engine: AsyncEngine
    loaders: Loaders
    search: SearchClient | None = None
    viewer: Identity | None = None
    # A bearer token was sent but is unknown or revoked.
    bad_token: bool = False
    client_address: str = "unknown"
    services: Any = None  # api.app.Services: settings, rate limits, the outbox worker
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The parsed request, kept so that error messages can name the argument at fault.
    document: Any = None

    @classmethod
    def create(
        cls, engine: AsyncEngine, search: SearchClient | None = None, request_id: str | None = None
    ) -> Context:
        return cls(
            engine=engine,
            loaders=Loaders(engine),
            search=search,
            request_id=request_id or uuid.uuid4().hex,
        )

    def session(self) -> AsyncSession:
        """A session for one write; the caller commits it."""
        return session_factory(self.engine)()

    def written(self) -> None:
        """A write committed: wake the outbox worker instead of letting it wait for its poll."""
        search = getattr(self.services, "search", None)
        if search is not None:
            search.worker.notify()
        people = getattr(self.services, "people", None)
        if people is not None:
            people.notify()


Info: TypeAlias = strawberry.Info[Context, None]
