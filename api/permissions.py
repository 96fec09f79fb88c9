"""Who may do what: every role check of the API goes through `require`."""

from __future__ import annotations

from api.errors import ApiError, ErrorCode
from models.enums import Role
from models.token import Identity


class Unauthenticated(ApiError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN


# Which roles may act as which: an editor may also moderate the comments on stories.
GRANTS: dict[Role, frozenset[Role]] = {
    Role.EDITOR: frozenset({Role.EDITOR, Role.MODERATOR}),
    Role.MODERATOR: frozenset({Role.MODERATOR}),
}


def require(viewer: Identity | None, role: Role, *, bad_token: bool = False) -> Identity:
    """The viewer, if their token grants `role`; otherwise UNAUTHENTICATED or FORBIDDEN."""
    if viewer is None:
        reason = "the token is unknown or revoked" if bad_token else "send Authorization: Bearer"
        raise Unauthenticated(f"this needs a token with the {role} role ({reason})")
    if role not in GRANTS[viewer.role]:
        raise Forbidden(f"a {viewer.role} token cannot do this; it needs the {role} role")
    return viewer


def can(viewer: Identity | None, role: Role) -> bool:
    return viewer is not None and role in GRANTS[viewer.role]
