"""The async engine and session factory; the only place that knows about database drivers."""

from __future__ import annotations

from typing import Any

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
    import asyncpg

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
        options.setdefault("pool_pre_ping", True)
    if target.get_driver_name() == "asyncpg":
        connect_args = {"timeout": CONNECT_TIMEOUT_SECONDS, **options.get("connect_args", {})}
        options["connect_args"] = connect_args
    engine = create_async_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _configure_sqlite)
    elif target.get_driver_name() == "asyncpg":
        sa.event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
