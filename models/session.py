"""The async engine and session factory; the only place that knows about database drivers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_url(url: str | URL) -> URL:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async driver for them."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def is_postgresql(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run while the importer writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Seconds to wait for a new PostgreSQL connection (asyncpg waits 60 by default): a server that
# does not answer is reported well within REQUEST_TIME_LIMIT, and workers retry sooner.
CONNECT_TIMEOUT_SECONDS = 5


def _connect_or_operational_error(
    dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Connect, and report a failure as the driver's OperationalError.

    asyncpg raises bare `OSError`s and its own errors ("the database system is starting up")
    while connecting, which SQLAlchemy passes on unwrapped; wrapped, every caller sees one
    exception (`sqlalchemy.exc.OperationalError`) for "the database cannot be reached".
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise dialect.loaded_dbapi.OperationalError(f"cannot connect: {exc}", exc) from exc


def create_engine(url: str | URL, **options: Any) -> AsyncEngine:
    """An async engine for `url`, configured the same way in the app, the CLI and the tests."""
    target = async_url(url)
    if target.get_backend_name() != "postgresql":
        # SQLite's pool is its own (one file, no server): the sizes are PostgreSQL's.
        options.pop("pool_size", None)
        options.pop("max_overflow", None)
    else:
        # A page's loaders each take a connection: 8 readers at once want up to 48. Overflow
        # connections are opened and closed on every use, which halved throughput at 10.
        # Several workers and replicas share the server's max_connections: the API takes its
        # sizes from DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW.
        options.setdefault("pool_size", 20)
        options.setdefault("max_overflow", 20)
    if target.get_driver_name() == "asyncpg":
        connect_args = {"timeout": CONNECT_TIMEOUT_SECONDS, **options.get("connect_args", {})}
        options["connect_args"] = connect_args
    engine = create_async_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _configure_sqlite)
    elif target.get_driver_name() == "asyncpg":
        sa.event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
        sa.event.listen(engine.sync_engine.pool, "checkout", _replace_closed)
    return engine


def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no connection the server has closed, without asking the server.

    `pool_pre_ping` asked on every checkout: with asyncpg a BEGIN, a `;` and a ROLLBACK, three
    round trips before each statement (a search request checked out two connections). A server
    that restarts or ends a session (shutdown, `pg_terminate_backend`, idle timeouts) closes the
    socket, and asyncpg sees that while the connection waits in the pool: `is_closed()` answers
    from memory, and the pool replaces the connection (DisconnectionError). What no ping-free
    check can see, a connection lost without the socket closing, is handled as SQLAlchemy's
    "optimistic" disconnect handling does: the statement fails, that request is answered
    SERVICE_UNAVAILABLE, and the pool invalidates every connection opened before it, so the
    next requests reconnect. (A ping would hang on such a connection until TCP gave up.)
    """
    if dbapi_connection.driver_connection.is_closed():
        raise sa.exc.DisconnectionError("the server closed this connection")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def rowcount(result: sa.Result[*tuple[Any, ...]]) -> int:
    """The rows an UPDATE or DELETE run through an `AsyncSession` matched."""
    # Session.execute is typed as returning a plain Result, since an ORM statement may return
    # rows of any kind; an UPDATE or DELETE without RETURNING gives a CursorResult at run time.
    return cast("sa.CursorResult[*tuple[Any, ...]]", result).rowcount


class ReadPool:
    """PostgreSQL connections for one-statement reads run on asyncpg itself, beside SQLAlchemy's
    pool: the compiled read path (api/compiled.py) sends one statement per request, and through
    asyncpg's own pool it costs that statement and nothing else.

    Two things SQLAlchemy's pool would add per request, measured on the article page: its
    checkout and check-in (about 6 % of the process's time), and, since a story's page is
    planned generically, a `SET plan_cache_mode` before and after the statement (13 %), which
    must be put back because the resolvers' list statements share those connections. Here each
    connection remembers the mode it was last set to and is switched only when a statement
    needs the other one, and asyncpg's `RESET ALL` on every release (one more round trip) is
    left out: these connections run single statements in autocommit and keep no other state.

    Opened on first use (an app that answers no compiled query opens nothing) and closed with
    the app. Idle connections close after a minute.
    """

    IDLE_SECONDS = 60.0

    def __init__(self, url: str | URL, max_size: int) -> None:
        target = make_url(url)
        self._dsn = target.set(drivername="postgresql").render_as_string(hide_password=False)
        self._max_size = max_size
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def fetchrow(self, sql: str, params: Sequence[Any], *, generic: bool) -> Any:
        """The statement's one row, planned generically (once for every value of its
        parameters) when `generic`, else as PostgreSQL chooses."""
        pool = self._pool or await self._open()
        async with pool.acquire() as conn:
            return await conn.planned_row(sql, params, generic)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _open(self) -> Any:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max_size,
                    max_inactive_connection_lifetime=self.IDLE_SECONDS,
                    timeout=CONNECT_TIMEOUT_SECONDS,
                    connection_class=_PlannedConnection,
                    reset=_nothing_to_reset,
                )
        return self._pool


class _PlannedConnection(asyncpg.Connection):
    """An asyncpg connection that remembers how it plans statements."""

    generic = False

    async def planned_row(self, sql: str, params: Sequence[Any], generic: bool) -> Any:
        if generic != self.generic:
            mode = "force_generic_plan" if generic else "auto"
            await self.execute(f"SET plan_cache_mode = {mode}")
            self.generic = generic
        return await self.fetchrow(sql, *params)


async def _nothing_to_reset(_: asyncpg.Connection) -> None:
    """Instead of asyncpg's RESET ALL on every release: see ReadPool."""
