"""Query limits: depth, aliases, field selections and an estimated cost, checked after
validation and before any resolver runs. Every answer reports its cost, as GitHub's API does.

The cost of a query is the number of fields it may resolve: a field costs 1, and the fields
under a list multiply by the size the query asks for (`first`, `limit`, `hitsPerPage`, or the
argument's default), or by DEFAULT_LIST_SIZE for lists without such an argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast,
    value_from_ast_untyped,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension

from api.errors import ErrorCode
from api.relay import MAX_PAGE_SIZE

SIZE_ARGUMENTS = ("first", "limit", "hitsPerPage")
DEFAULT_LIST_SIZE = 10


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 30
    max_fields: int = 300
    max_cost: int = 10_000


@dataclass
class Measure:
    cost: int = 0
    depth: int = 0
    fields: int = 0
    aliases: int = 0


def _is_list(field: GraphQLField) -> bool:
    kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(kind, GraphQLList) or get_named_type(field.type).name.endswith("Connection")


class _Estimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.measure = Measure()

    def _size(self, node: FieldNode, field: GraphQLField) -> int:
        given = {arg.name.value: arg.value for arg in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            if name in field.args:
                value = None
                if name in given:
                    value = value_from_ast(given[name], field.args[name].type, self.variables)
                if value is None:
                    value = field.args[name].default_value
                if isinstance(value, int):
                    # Out-of-range sizes are refused by the field itself with BAD_USER_INPUT
                    # naming the argument; the estimate counts what could be served.
                    return min(max(value, 0), MAX_PAGE_SIZE)
        return DEFAULT_LIST_SIZE

    def _fields(
        self, selection_set: SelectionSetNode, parent: Any
    ) -> Iterator[tuple[FieldNode, Any]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                kind = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                yield from self._fields(selection.selection_set, kind)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    kind = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self._fields(fragment.selection_set, kind)

    def cost(self, selection_set: SelectionSetNode, parent: Any, depth: int) -> int:
        total = 0
        for node, owner in self._fields(selection_set, parent):
            self.measure.fields += 1
            if node.alias is not None:
                self.measure.aliases += 1
            name = node.name.value
            field = None if name.startswith("__") else getattr(owner, "fields", {}).get(name)
            if field is None:
                continue
            self.measure.depth = max(self.measure.depth, depth)
            below = 0
            if node.selection_set is not None:
                below = self.cost(node.selection_set, get_named_type(field.type), depth + 1)
            # A connection's size is its `first`; its edges and nodes are those same items.
            in_connection = getattr(owner, "name", "").endswith("Connection")
            many = _is_list(field) and not in_connection
            total += 1 + (self._size(node, field) if many else 1) * below
        return total


def measure(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> Measure | None:
    """How big an operation is; None when the document names no such operation."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    operation = operations[0]
    values = dict(variables or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    root = schema.get_root_type(operation.operation)
    estimator = _Estimator(schema, fragments, values)
    estimator.measure.cost = estimator.cost(operation.selection_set, root, 1)
    return estimator.measure


def _too_much(code: ErrorCode, what: str, limit: int, value: int) -> ExecutionResult:
    error = GraphQLError(
        f"The query's {what}: {value}, over the limit of {limit}. See extensions.limit.",
        extensions={"code": code.value, "limit": limit, "measured": value},
    )
    return ExecutionResult(data=None, errors=[error])


class QueryLimits(SchemaExtension):
    """Refuses operations over the limits before any resolver runs; reports the cost."""

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__()
        self.limits = limits or Limits()
        self._measure: Measure | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        found = None
        if context.graphql_document is not None:
            found = measure(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables or {},
            )
        self._measure = found
        if found is not None:
            limits = self.limits
            checks = (
                (ErrorCode.QUERY_TOO_DEEP, "depth", limits.max_depth, found.depth),
                (ErrorCode.QUERY_TOO_COMPLEX, "aliases", limits.max_aliases, found.aliases),
                (ErrorCode.QUERY_TOO_COMPLEX, "field selections", limits.max_fields, found.fields),
                (ErrorCode.QUERY_TOO_COMPLEX, "estimated cost", limits.max_cost, found.cost),
            )
            for code, what, limit, value in checks:
                if value > limit:
                    context.result = _too_much(code, what, limit, value)
                    break
        yield

    def get_results(self) -> dict[str, Any]:
        found = self._measure
        if found is None:
            return {}
        return {
            "cost": {
                "requested": found.cost,
                "limit": self.limits.max_cost,
                "depth": found.depth,
                "fields": found.fields,
            }
        }
