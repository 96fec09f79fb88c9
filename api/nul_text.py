"""Text arguments the databases cannot hold are refused before any resolver runs.

PostgreSQL text has no NUL character (U+0000): a slug or a comment holding one would fail deep in
a query. It is refused as bad input naming the argument instead, the same on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    StringValueNode,
    visit,
)
from graphql.execution import ExecutionResult
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

NUL = "\x00"
REASON = "text may not contain the NUL character (U+0000)"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _literal_with_nul(document: DocumentNode) -> StringValueNode | None:
    found: list[StringValueNode] = []

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if NUL in node.value:
                found.append(node)

    visit(document, Finder())
    return found[0] if found else None


def nul_error(
    document: DocumentNode, source: str, variables: dict[str, Any]
) -> GraphQLError | None:
    """The error for the first variable or literal holding a NUL, if any.

    Worded as graphql-core words a variable or a literal it cannot coerce, so that
    `api.errors.format_error` names the argument behind it (BAD_USER_INPUT).
    """
    defined = {
        definition.variable.name.value
        for operation in document.definitions
        if isinstance(operation, OperationDefinitionNode)
        for definition in operation.variable_definitions or ()
    }
    for name, value in variables.items():
        if name in defined and _holds_nul(value):
            return GraphQLError(f"Variable '${name}' got invalid value; {REASON}")
    # GraphQL source text cannot hold a NUL itself, only an escape of one (\u0000, \u{0}):
    # without a \u in the text, walking the whole document is work for nothing.
    literal = _literal_with_nul(document) if "\\u" in source else None
    if literal is not None:
        return GraphQLError(f"Expected a storable String; {REASON}", nodes=[literal])
    return None


class StorableText(SchemaExtension):
    """Refuses operations whose text arguments hold a NUL, before they run."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            source = context.query or ""
            error = nul_error(context.graphql_document, source, context.variables or {})
            if error is not None:
                context.result = ExecutionResult(data=None, errors=[error])
        yield
