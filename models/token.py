"""API tokens: random bearer secrets stored only as hashes, each with one role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.enums import Role, string_enum
from models.session import rowcount

TOKEN_PREFIX = "nr_"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    role: Mapped[Role] = mapped_column(string_enum(Role, "token_role"))
    # SHA-256 is enough: the token is 32 random bytes, not a password anyone could guess.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to."""

    token_id: int
    name: str
    role: Role


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(ValueError):
    pass


async def create_token(session: AsyncSession, name: str, role: Role) -> str:
    """Store a new token and answer it in clear: the only time it is ever shown."""
    name = name.strip()
    if not name:
        raise TokenError("a token needs a name")
    active = sa.select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    if await session.scalar(active) is not None:
        raise TokenError(f"an active token named {name!r} exists; revoke it or pick another name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=_digest(token)))
    return token


async def revoke_token(session: AsyncSession, name: str) -> bool:
    result = await session.execute(
        sa.update(ApiToken)
        .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(rowcount(result))


async def identify(conn: AsyncConnection, token: str) -> Identity | None:
    """The identity behind a bearer token, or None when unknown or revoked."""
    row = (
        await conn.execute(
            sa.select(ApiToken.id, ApiToken.name, ApiToken.role).where(
                ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None)
            )
        )
    ).first()
    return Identity(token_id=row.id, name=row.name, role=Role(row.role)) if row else None
