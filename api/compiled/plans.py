"""Compiled statements kept by document, operation and variables' signature; cost and validity
kept by text; the answer's JSON from the statement's row."""

from __future__ import annotations

import logging
from collections import OrderedDict
from enum import Enum
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    validate,
)
from graphql.execution.values import get_variable_values

from api import cache
from api.compiled.arguments import Refused
from api.compiled.fields import OBJECTS, OWN_TAGS, root_field
from api.compiled.search import search_plan
from api.compiled.walker import Compiled, NotCompiled, Walker, joins
from api.cost import estimate_cost
from api.query_limits import Limits, parse_document

logger = logging.getLogger("newsroom.compiled")


def compile_query(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Any,
) -> Compiled | None:
    """The statement for this query and variables like these (see `_signature`); None for the
    resolvers whatever the variables; Refused for the resolvers with these variables."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = Walker(schema, fragments, variables, OBJECTS, OWN_TAGS)
    query_type = schema.query_type
    assert query_type is not None
    try:
        fields = walker.collect(query_type, [operation.selection_set])
        if [nodes[0].name.value for nodes in fields.values()] == ["search"]:
            [(key, nodes)] = fields.items()
            return search_plan(walker, key, nodes, query_type.fields["search"])
        columns, laterals, keys, nullable = [], [], [], []
        for n, (key, nodes) in enumerate(fields.items()):
            laterals.append((root_field(walker, nodes, query_type), f"q{n}"))
            columns.append(f"q{n}.j, q{n}.t")
            keys.append(key)
            if nodes[0].name.value in ("article", "topic", "person"):
                nullable.append(key)
    except NotCompiled as exc:
        logger.debug("not compiled: %s", exc)
        return None
    sql = f"SELECT {', '.join(columns)} FROM (SELECT 1) root{joins(laterals)}"
    return Compiled(
        sql, walker.statement.getters, keys, walker.tags, nullable, generic=not walker.pages
    )


def _signature(value: Any) -> Any:
    """What of the variables shapes the statement: which are null, booleans (directives),
    enums (orders), whether lists are empty (filters). Other values are parameters."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return tuple(sorted((k, _signature(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("list", bool(value))
    if hasattr(value, "__dict__"):  # an input object, as Strawberry builds it
        return (type(value).__name__, _signature(vars(value)))
    return type(value).__name__


_PLANS: OrderedDict[tuple[Any, ...], Compiled | None] = OrderedDict()
MAX_PLANS = 512


def plan(
    schema: GraphQLSchema,
    query: str,
    document: DocumentNode,
    operation_name: str | None,
    raw_variables: dict[str, Any] | None,
) -> tuple[Compiled, list[Any]] | None:
    """The compiled statement and its parameters for this request, or None for the resolvers.
    Statements are kept by document and the variables' signature: a frontend's few documents
    are compiled once, and each request only computes its parameters."""
    operation = operation_of(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), raw_variables or {})
    if isinstance(coerced, list):  # the resolvers' path reports the errors
        return None
    key = (id(schema), query, operation_name, _signature(coerced.coerced))
    try:
        if key in _PLANS:
            _PLANS.move_to_end(key)
            compiled = _PLANS[key]
        else:
            compiled = compile_query(schema, document, operation, coerced)
            _PLANS[key] = compiled
            if len(_PLANS) > MAX_PLANS:
                _PLANS.popitem(last=False)
        if compiled is None:
            return None
        return compiled, compiled.bind(coerced)
    except Refused:
        return None
    except Exception:  # a bug here must cost speed, never an answer
        logger.exception("compiling %r failed; the resolvers answer it", query[:200])
        return None


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def assemble(compiled: Compiled, row: Any) -> tuple[bytes, set[str]]:
    """The answer's `data` JSON and the cache tags it read, from the statement's one row."""
    parts = []
    tags = set(compiled.tags)
    for n, key in enumerate(compiled.keys):
        value = row[2 * n]
        if value is None:
            value = "null"
        if value == "null" and key in compiled.nullable_roots:
            tags.add(cache.LIST)
        parts.append(f'"{key}":{value}')
        found = row[2 * n + 1]
        if found:
            tags.update(t for t in found.split(",") if t)
    return ("{" + ",".join(parts) + "}").encode(), tags


_COSTS: OrderedDict[tuple[Any, ...], int | None] = OrderedDict()


def cost_of(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any],
) -> int | None:
    """`estimate_cost`, kept per document and the variables that can change it (page sizes,
    the booleans of directives); a slug or a cursor does not."""
    key = (id(schema), query, operation_name, _cost_signature(variables))
    if key not in _COSTS:
        _COSTS[key] = estimate_cost(schema, document, operation_name, variables)
        if len(_COSTS) > MAX_PLANS:
            _COSTS.popitem(last=False)
    return _COSTS[key]


def _cost_signature(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return tuple(sorted((k, _cost_signature(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_cost_signature(v) for v in value)
    return type(value).__name__


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


@lru_cache(maxsize=256)
def valid(schema: GraphQLSchema, query: str, limits: Limits) -> bool:
    # Kept by the text, as parse_document keeps the document (which it returns from its cache
    # here): a graphql-core node's hash walks the whole tree, 3 % of a page's time as a key.
    return not validate(schema, parse_document(query, limits).document)
