"""Stable error codes, the exceptions that carry them, and how errors reach clients.

Expected failures of mutations are result types; what lands here is everything else.
Clients see a code and a message written for them; internal details stay in the log.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import Any

from graphql import ArgumentNode, GraphQLError, Node, VariableNode, visit
from graphql.language import Visitor
from sqlalchemy import exc as sa_exc

logger = logging.getLogger("newsroom.api")

MAX_MESSAGE = 1_000

# graphql-core's wording for a variable whose value does not fit its type.
_VARIABLE_VALUE_ERROR = re.compile(
    r"^Variable '\$(\w+)' (?:has invalid value|got invalid value|of required type .* was not "
    r"provided|of non-null type .* must not be null)"
)


class ErrorCode(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# SQLSTATEs of a server that is going away or not there yet: connection exceptions (08...),
# shutting down, crashed or starting up (57P...), too many connections (53300).
_UNAVAILABLE_STATES = ("08", "57P", "53300")


def unavailable(error: BaseException) -> bool:
    """The database could not be reached: the client should retry, nothing is wrong with it."""
    cause: BaseException | None = error
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        ):
            return True
        cause = error.orig
    if str(getattr(cause, "sqlstate", None) or "").startswith(_UNAVAILABLE_STATES):
        return True
    return isinstance(cause, OSError | TimeoutError | sa_exc.TimeoutError)


class ApiError(Exception):
    """An error the client caused or must act on; its message is shown as written."""

    code = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class QueryTooLarge(ApiError):
    """The document or its variables are over a size limit (`extensions.limit`): refused
    before the rest of them was read."""

    code = ErrorCode.QUERY_TOO_LARGE


class BadUserInput(ApiError):
    code = ErrorCode.BAD_USER_INPUT

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f'Invalid value for argument "{argument}": {message}', argument=argument)


def require_between(argument: str, value: int, low: int, high: int) -> int:
    """`value`, or BadUserInput naming the argument and the bounds it is held to."""
    if not low <= value <= high:
        raise BadUserInput(argument, f"must be between {low} and {high}, got {value}")
    return value


def _argument_using(document: Node, target: Node) -> str | None:
    """The name of the argument whose value is `target` or contains it."""
    found: list[str] = []

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            value = node.value
            if value is target or target in _descendants(value):
                found.append(node.name.value)

    visit(document, Finder())
    return found[0] if found else None


def _arguments_bound_to(document: Node, variable: str) -> list[str]:
    names: list[str] = []

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            if isinstance(node.value, VariableNode) and node.value.name.value == variable:
                names.append(node.name.value)

    visit(document, Finder())
    return names


def _descendants(node: Node) -> list[Node]:
    nodes: list[Node] = []

    class Collector(Visitor):
        def enter(self, child: Node, *_: Any) -> None:
            nodes.append(child)

    visit(node, Collector())
    return nodes


def _classify_request_error(error: GraphQLError, document: Node | None) -> dict[str, Any]:
    """Parse, validation and variable errors: the message is graphql-core's, which is safe."""
    message = error.message
    if message.startswith("Syntax Error"):
        return {"message": message, "code": ErrorCode.GRAPHQL_PARSE_FAILED}
    if message == "Validation aborted.":
        # graphql-core spent its budget for comparing fields (api/limits.VALIDATION_BUDGET).
        message = "The query repeats the same fields too often to be checked; select each once"
        return {"message": message, "code": ErrorCode.QUERY_TOO_COMPLEX}
    node = error.nodes[0] if error.nodes else None
    coercion = _VARIABLE_VALUE_ERROR.match(message)
    if coercion:
        variable = coercion.group(1)
        arguments = _arguments_bound_to(document, variable) if document else []
        if arguments:
            message = f'Invalid value for argument "{arguments[0]}": {message}'
            return {"message": message, "code": ErrorCode.BAD_USER_INPUT, "argument": arguments[0]}
        return {"message": message, "code": ErrorCode.BAD_USER_INPUT}
    if node is not None and document is not None and "value" in node.kind:
        argument = _argument_using(document, node)
        if argument:
            message = f'Invalid value for argument "{argument}": {message}'
            return {"message": message, "code": ErrorCode.BAD_USER_INPUT, "argument": argument}
    return {"message": message, "code": ErrorCode.GRAPHQL_VALIDATION_FAILED}


def format_error(error: GraphQLError, document: Node | None, request_id: str) -> dict[str, Any]:
    """The client's view of one error: a stable code, a safe message, never a stack trace."""
    original = error.original_error
    formatted: dict[str, Any] = {}
    if isinstance(original, ApiError):
        formatted = {"message": original.message, "code": original.code, **original.extensions}
    elif original is None and (error.extensions or {}).get("code"):
        # Raised by our own checks (query limits) with a code and a message for the client.
        formatted = {"message": error.message, **(error.extensions or {})}
    elif original is None or isinstance(original, GraphQLError):
        # Parse, validation and variable-coercion errors: graphql-core's wording is safe.
        formatted = _classify_request_error(error, document)
    elif unavailable(original):
        formatted = {
            "message": f"The database is unavailable; retry shortly (request id {request_id})",
            "code": ErrorCode.SERVICE_UNAVAILABLE,
            "requestId": request_id,
        }
    else:
        formatted = {
            "message": f"Internal server error (request id {request_id})",
            "code": ErrorCode.INTERNAL_SERVER_ERROR,
            "requestId": request_id,
        }
    message = formatted.pop("message")
    if len(message) > MAX_MESSAGE:
        # graphql-core prints the offending value in full: a list nested 190 deep is 36 KB.
        message = message[:MAX_MESSAGE] + "…"
    body: dict[str, Any] = {"message": message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = error.path
    body["extensions"] = {k: str(v) if isinstance(v, StrEnum) else v for k, v in formatted.items()}
    return body


def log_unexpected(errors: list[GraphQLError], request_id: str) -> None:
    for error in errors:
        original = error.original_error
        if original is not None and unavailable(original):
            # Expected while the database is away; one line each, not a traceback per field.
            logger.warning(
                "database unavailable in %s (request id %s): %s",
                ".".join(str(p) for p in error.path or ()),
                request_id,
                original,
            )
        elif original is not None and not isinstance(original, ApiError | GraphQLError):
            logger.error(
                "unexpected error in %s (request id %s)",
                ".".join(str(p) for p in error.path or ()),
                request_id,
                exc_info=original,
            )
