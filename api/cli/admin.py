"""Administration commands: database migrations, bearer tokens, and the GraphQL schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from api.cli.app import app, console, db, load_settings, token
from models.enums import Role
from models.session import create_engine, session_factory
from models.token import TokenError, create_token, revoke_token


@db.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    # Here, not at the top: `newsroom serve` is this module's process too, and Alembic with
    # Mako is 8 MB of memory a server never uses.
    from models import migrate

    async def run() -> None:
        engine = create_engine(load_settings().resolved_database_url)
        try:
            await migrate.upgrade(engine, revision)
            console.print(f"database at revision {await migrate.current_revision(engine)}")
        finally:
            await engine.dispose()

    asyncio.run(run())


@db.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m")]) -> None:
    """Autogenerate a migration from the models against the current database."""
    from models import migrate  # as in db_upgrade

    async def run() -> None:
        engine = create_engine(load_settings().resolved_database_url)
        try:
            await migrate.revision(engine, message)
        finally:
            await engine.dispose()

    asyncio.run(run())


@token.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="What the token may do.")],
    name: Annotated[str, typer.Option(help="Who or what holds it, e.g. a person's name.")],
) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only hashed."""

    async def run() -> str:
        engine = create_engine(load_settings().resolved_database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await create_token(session, name, role)
        finally:
            await engine.dispose()

    try:
        secret = asyncio.run(run())
    except TokenError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(code=1) from None
    console.print(f"{role} token for {name!r} (shown once; keep it secret):")
    print(secret)


@token.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once; requests with it are refused from then on."""

    async def run() -> bool:
        engine = create_engine(load_settings().resolved_database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await revoke_token(session, name)
        finally:
            await engine.dispose()

    if not asyncio.run(run()):
        console.print(f"[red]no active token named {name!r}")
        raise typer.Exit(code=1)
    console.print(f"revoked {name!r}")


@app.command()
def schema(
    check: Annotated[
        Path | None,
        typer.Option(help="Report breaking changes against this SDL file (e.g. the last release)."),
    ] = None,
) -> None:
    """Print the GraphQL schema (SDL); with --check, list breaking changes against a file."""
    from graphql import build_schema, find_breaking_changes

    from api.schema import schema as current

    if check is None:
        print(current.as_str())
        return
    changes = find_breaking_changes(build_schema(check.read_text()), current._schema)
    for change in changes:
        console.print(f"[red]{change.type.name}: {change.description}")
    console.print(f"{len(changes)} breaking change(s) against {check}")
    raise typer.Exit(code=1 if changes else 0)
