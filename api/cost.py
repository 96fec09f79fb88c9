"""The estimated cost of a query, which api/query_limits.py refuses over its limit before any
resolver runs and every answer reports.

The cost of a query is the number of fields it may resolve: a field costs 1, and the fields
under a list multiply by the size the query asks for (`first` or `last`, `limit`, `hitsPerPage`,
or the argument's default), or by DEFAULT_LIST_SIZE for lists without such an argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
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
from strawberry.schema.schema_converter import GraphQLCoreConverter

from api.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

SIZE_ARGUMENTS = ("first", "last", "limit", "hitsPerPage")
DEFAULT_LIST_SIZE = 10


def _is_list(field: GraphQLField) -> bool:
    kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(kind, GraphQLList) or get_named_type(field.type).name.endswith("Connection")


def _default_size(argument: GraphQLArgument) -> int | None:
    """The size an argument stands for when not given: its GraphQL default, or for a
    connection's `first` (nullable, so that `last` can be given alone) the page size it keeps
    in its metadata (api/relay.first_argument)."""
    if isinstance(argument.default_value, int):
        return argument.default_value
    definition = (argument.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    default = getattr(definition, "metadata", {}).get(DEFAULT_PAGE_SIZE)
    return default if isinstance(default, int) else None


class _Estimator:
    """Walks the operation with its fragments expanded: within the limits on shape, checked
    before validation, that is at most a few hundred steps."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _size(self, node: FieldNode, field: GraphQLField) -> int:
        # A connection's `last` counts as its `first` does: the page it reads is as large.
        given = {arg.name.value: arg.value for arg in node.arguments or ()}
        sizes = [name for name in SIZE_ARGUMENTS if name in field.args]
        for name in sizes:
            value = None
            if name in given:
                value = value_from_ast(given[name], field.args[name].type, self.variables)
            if isinstance(value, int):
                # Out-of-range sizes are refused by the field itself with BAD_USER_INPUT
                # naming the argument; the estimate counts what could be served.
                return min(max(value, 0), MAX_PAGE_SIZE)
        for name in sizes:
            default = _default_size(field.args[name])
            if default is not None:
                return default
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

    def cost(self, selection_set: SelectionSetNode, parent: Any) -> int:
        total = 0
        for node, owner in self._fields(selection_set, parent):
            name = node.name.value
            field = None if name.startswith("__") else getattr(owner, "fields", {}).get(name)
            if field is None:
                continue
            below = 0
            if node.selection_set is not None:
                below = self.cost(node.selection_set, get_named_type(field.type))
            # A connection's size is its `first`; its edges and nodes are those same items.
            in_connection = getattr(owner, "name", "").endswith("Connection")
            many = _is_list(field) and not in_connection
            total += 1 + (self._size(node, field) if many else 1) * below
        return total


def estimate_cost(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> int | None:
    """The operation's estimated cost; None when the document names no such operation."""
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
    return _Estimator(schema, fragments, values).cost(operation.selection_set, root)
