"""The typed per-request context: the engine, fresh loaders and the request's identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from api import cache
from api.loaders import Loaders
from api.observability import new_request_id
from models import changes
from models.session import AsyncSession, session_factory
from models.token import Identity
from search.client import SearchClient

if TYPE_CHECKING:
    from api.services import Services


@dataclass
class Context:
    engine: AsyncEngine
    loaders: Loaders
    search: SearchClient | None = None
    viewer: Identity | None = None
    # A bearer token was sent but is unknown or revoked.
    bad_token: bool = False
    client_address: str = "unknown"
    services: Services | None = None
    request_id: str = field(default_factory=new_request_id)
    # The parsed request, kept so that error messages can name the argument at fault.
    document: Any = None
    # The reader site's public address (api/urls.py), for `Article.url`.
    base_url: str = ""

    @classmethod
    def create(
        cls, engine: AsyncEngine, search: SearchClient | None = None, request_id: str | None = None
    ) -> Context:
        return cls(
            engine=engine,
            loaders=Loaders(engine),
            search=search,
            request_id=request_id or new_request_id(),
        )

    def session(self) -> AsyncSession:
        """A session for reads and writes that need the ORM; see `write` for writes."""
        return session_factory(self.engine)()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction. Once it commits, cached answers that read what it changed are
        dropped before the mutation answers, so the writer's next read is never stale."""
        async with self.session() as session:
            async with session.begin():
                yield session
            await self.written(changes.take(session))

    async def written(self, changed: set[changes.Change]) -> None:
        await announce(self.services, changed)


async def announce(services: Services | None, changed: set[changes.Change]) -> None:
    """Tell this process's caches and jobs of a committed write: cached answers that read what
    it changed go, and the workers start at once instead of at their next poll."""
    result_cache = getattr(services, "cache", None)
    if result_cache is not None and changed:
        await result_cache.invalidate(cache.tags_for(changed))
    for job in ("people", "related", "webhooks"):
        worker = getattr(services, job, None)
        if worker is not None:
            worker.notify()
    search = getattr(services, "search", None)
    if search is not None:
        search.worker.notify()


Info: TypeAlias = strawberry.Info[Context, None]
