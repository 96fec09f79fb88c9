"""The compiler's walk over a selection: the statement it builds, what a compiled query is, objects
and lists as lateral joins, story connections. Which SQL each field is: api/compiled/fields.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import get_directive_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective

from api import cache
from api.compiled.arguments import (
    Arguments,
    Getter,
    Refused,
    cursor_part,
    enum_name,
)
from api.relay import MAX_PAGE_SIZE
from models import json_sql as j

if TYPE_CHECKING:
    from api.compiled.search import SearchPlan


# A to-one or list child: the SELECT that computes it beside its parent's row, and its alias.
Lateral = tuple[str, str]
# A field: its JSON text expression, the lateral it needs (if any), its cache tags expression.
Field = tuple[str, Lateral | None, str]


class NotCompiled(Exception):
    """This query takes the resolvers' path, whatever its variables."""


@dataclass
class Statement:
    """SQL text with $n parameters, built while walking the selection. Each parameter is kept
    as the way to compute it from the variables, so that the statement can serve the next
    request with other values (`Compiled.bind`)."""

    variables: Any
    getters: list[Getter] = field(default_factory=list)
    _aliases: int = 0

    def param(self, getter: Getter, cast: str) -> str:
        getter(self.variables)  # refuses these variables now, as it will others later
        self.getters.append(getter)
        return f"${len(self.getters)}::{cast}"

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"


@dataclass
class Compiled:
    sql: str
    getters: list[Getter]
    keys: list[str]
    # Tags every answer of this query reads whatever the rows (LIST for a list).
    tags: set[str]
    # Root keys whose null answer reads LIST ("not found" must end when the story appears).
    nullable_roots: list[str]
    # Whether PostgreSQL may plan it once for all values (see `answer`): not with a list page,
    # whose best plan depends on its size.
    generic: bool = False
    # A site search (`search` alone at the root): Meilisearch's page first, then the statement
    # for its hits, whose first parameter is the hits' ids.
    search: SearchPlan | None = None

    def bind(self, variables: Any) -> list[Any]:
        """The parameters for these variables (Refused if the resolvers would refuse them)."""
        return [getter(variables) for getter in self.getters]


class Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Any,
        objects: dict[str, Any],
        own_tags: dict[str, Callable[[str], list[str]]],
    ) -> None:
        # The JSON of each type's fields (api/compiled/fields.py), passed in: they walk with this.
        self.objects = objects
        self.own_tags = own_tags
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.statement = Statement(variables)
        self.tags: set[str] = set()
        self.pages = False

    # -- the selection, as the executor collects it -------------------------------------------

    def collect(
        self, type_: GraphQLObjectType, selections: list[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        fields: dict[str, list[FieldNode]] = {}
        for selection_set in selections:
            self._collect(type_, selection_set, fields, set())
        return fields

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, type_):
                    self._collect(type_, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition, type_):
                    self._collect(type_, fragment.selection_set, fields, visited)

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _applies(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is type_:
            return True
        return bool(named) and self.schema.is_sub_type(named, type_)  # type: ignore[arg-type]

    def arguments(self, field_def: GraphQLField, node: FieldNode) -> Arguments:
        return Arguments(field_def, node, self.schema._strawberry_schema)  # type: ignore[attr-defined]

    def _object_type(self, type_name: str) -> GraphQLObjectType:
        type_ = self.schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        return type_

    def _selected(
        self, type_name: str, nodes: list[FieldNode], pairs: list[tuple[str, str]]
    ) -> Iterator[tuple[str, list[FieldNode], str]]:
        """The fields `nodes` select on `type_name`, each with its key and name, in order;
        `__typename`, the type's name on every object, is answered here into `pairs`."""
        type_ = self._object_type(type_name)
        fields = self.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        for key, field_nodes in fields.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, j.literal(j.string_literal(type_name))))
            else:
                yield key, field_nodes, name

    # -- objects --------------------------------------------------------------------------------

    def object_select(
        self, type_name: str, nodes: list[FieldNode], source: str, row: str, extra: str = ""
    ) -> str:
        """SELECT j (the object's JSON) and t (its cache tags) for each row of `source`."""
        type_ = self._object_type(type_name)
        builder = self.objects.get(type_name)
        if builder is None:
            raise NotCompiled(type_name)
        pairs: list[tuple[str, str]] = []
        laterals: list[Lateral] = []
        own_tags = self.own_tags.get(type_name)
        tag_parts: list[str] = list(own_tags(row)) if own_tags is not None else []
        for key, field_nodes, name in self._selected(type_name, nodes, pairs):
            field_def = type_.fields.get(name)
            if field_def is None:
                raise NotCompiled(f"{type_name}.{name}")
            value, lateral, tag = builder(self, row, name, field_def, field_nodes)
            pairs.append((key, value))
            if lateral is not None:
                laterals.append(lateral)
            if tag:
                tag_parts.append(tag)
        columns = f"{j.obj(pairs)} AS j, {j.tags(*tag_parts)} AS t{extra}"
        return f"SELECT {columns} FROM {source} {row}{joins(laterals)}"

    def child(self, type_name: str, nodes: list[FieldNode], source: str) -> Field:
        """A to-one child: its JSON (null when absent), the lateral that computes it, its tags."""
        name = self.statement.alias("o")
        row = self.statement.alias("r")
        select = self.object_select(type_name, nodes, source, row)
        return f"coalesce({name}.j, 'null')", (select, name), f"{name}.t"

    def children(self, type_name: str, nodes: list[FieldNode], source: str, order: str) -> Field:
        """A list child: `source` rows must carry the column `o` to order them by."""
        name = self.statement.alias("l")
        row = self.statement.alias("r")
        inner = self.object_select(type_name, nodes, source, row, extra=f", {row}.o AS o")
        items = self.statement.alias("i")
        lateral = (
            f"SELECT {j.array(f'{items}.j', f'{items}.o')} AS j, "
            f"string_agg({items}.t, ',') AS t FROM ({inner}) {items}"
        )
        return f"{name}.j", (lateral, name), f"{name}.t"

    # -- story lists ----------------------------------------------------------------------------

    def article_connection(
        self,
        nodes: list[FieldNode],
        arguments: Arguments,
        scope: str,
        count: str,
        default_first: int | None,
    ) -> Field:
        """A connection of published stories: `scope` is the FROM and WHERE that picks them
        (alias `a`... given by the caller as `{row}`), `count` the SQL that counts them."""
        self.tags.add(cache.LIST)
        self.pages = True
        given = arguments(self.variables)

        def size(variables: Any) -> int:
            values = arguments(variables)
            first, last = values.get("first"), values.get("last")
            if first is None and last is None:
                first = default_first
            chosen = first if last is None else last
            if (first is not None and last is not None) or not (
                isinstance(chosen, int) and 0 <= chosen <= MAX_PAGE_SIZE
            ):
                raise Refused("first/last")
            return chosen

        backward = given.get("last") is not None
        order = given.get("orderBy", given.get("order_by"))
        descending = enum_name(order) != "OLDEST"
        row = self.statement.alias("a")
        where = scope.replace("{row}", row)
        for argument, before in (("after", False), ("before", True)):
            if given.get(argument) is None:
                continue
            at_param = self.statement.param(cursor_part(arguments, argument, 0), "timestamptz")
            pk_param = self.statement.param(cursor_part(arguments, argument, 1), "integer")
            op = "<" if descending != before else ">"
            where += f" AND ({row}.published_at, {row}.id) {op} ({at_param}, {pk_param})"
        # Backward, the list is read from its far end (models.pagination does the same): `o`
        # counts down from -1 at the row nearest `before`, so that `o` still sorts the page in
        # the list's order.
        direction = "DESC" if descending != backward else "ASC"
        ordering = f"{row}.published_at {direction}, {row}.id {direction}"
        limit = self.statement.param(lambda variables: size(variables) + 1, "integer")
        size_param = self.statement.param(size, "integer")
        sign = "-" if backward else ""
        page = (
            f"(SELECT {row}.*, {sign}row_number() OVER (ORDER BY {ordering}) AS o FROM {where} "
            f"ORDER BY {ordering} LIMIT {limit})"
        )
        name = self.statement.alias("c")
        p = self.statement.alias("p")
        # The page is read once: every row's node and edge are laterals beside it, and the
        # aggregates below leave out the extra row that only tells whether a next page exists.
        on_page = f"{p}.o >= -{size_param}" if backward else f"{p}.o <= {size_param}"
        laterals: list[Lateral] = []
        aggregates: list[str] = []
        pairs: list[tuple[str, str]] = []
        item_tags: list[str] = []
        for key, field_nodes, field_name in self._selected("ArticleConnection", nodes, pairs):
            if field_name == "totalCount":
                pairs.append((key, f"({count.replace('{row}', self.statement.alias('n'))})::text"))
            elif field_name in ("nodes", "edges"):
                item = self.statement.alias("x")
                source = f"(SELECT {p}.* WHERE {on_page})"
                if field_name == "nodes":
                    select = self.object_select(
                        "Article", field_nodes, source, self.statement.alias("r")
                    )
                else:
                    select = self._edge(field_nodes, source)
                laterals.append((select, item))
                item_tags.append(f"{item}.t")
                column = self.statement.alias("v")
                aggregates.append(
                    f"coalesce('[' || string_agg({item}.j, ',' ORDER BY {p}.o) "
                    f"FILTER (WHERE {on_page}) || ']', '[]') AS {column}"
                )
                pairs.append((key, f"{name}.{column}"))
            elif field_name == "pageInfo":
                pairs.append((key, self._page_info(field_nodes, name, size_param, backward)))
            else:
                raise NotCompiled(f"ArticleConnection.{field_name}")
        cursor = j.time_id_cursor(f"{p}.published_at", f"{p}.id")
        aggregates += [
            "count(*) AS rows",
            f"(array_agg({cursor} ORDER BY {p}.o DESC) FILTER (WHERE {on_page}))[1] AS end_cursor",
            f"(array_agg({cursor} ORDER BY {p}.o) FILTER (WHERE {on_page}))[1] AS start_cursor",
            f"string_agg({j.tags(*article_tags(p), *item_tags)}, ',') "
            f"FILTER (WHERE {on_page}) AS t",
        ]
        lateral = f"SELECT {', '.join(aggregates)} FROM {page} {p}{joins(laterals)}"
        return j.obj(pairs), (lateral, name), f"{name}.t"

    def _edge(self, nodes: list[FieldNode], source: str) -> str:
        row = self.statement.alias("r")
        pairs: list[tuple[str, str]] = []
        laterals: list[Lateral] = []
        node_tags: list[str] = []
        for key, field_nodes, name in self._selected("ArticleEdge", nodes, pairs):
            if name == "cursor":
                cursor = j.time_id_cursor(f"{row}.published_at", f"{row}.id")
                pairs.append((key, f"'\"' || {cursor} || '\"'"))
            elif name == "node":
                node = self.statement.alias("e")
                inner = self.object_select(
                    "Article", field_nodes, f"(SELECT {row}.*)", self.statement.alias("r")
                )
                laterals.append((inner, node))
                node_tags.append(f"{node}.t")
                pairs.append((key, f"{node}.j"))
            else:
                raise NotCompiled(f"ArticleEdge.{name}")
        columns = f"{j.obj(pairs)} AS j, {j.tags(*node_tags)} AS t"
        return f"SELECT {columns} FROM {source} {row}{joins(laterals)}"

    def _page_info(
        self, nodes: list[FieldNode], connection: str, size_param: str, backward: bool
    ) -> str:
        pairs: list[tuple[str, str]] = []
        for key, _, name in self._selected("PageInfo", nodes, pairs):
            if name in ("hasNextPage", "hasPreviousPage"):
                # Each flag is known only in the direction paged (api.relay.PageInfo).
                known = backward == (name == "hasPreviousPage")
                more = j.boolean(f"{connection}.rows > {size_param}")
                pairs.append((key, more if known else "'false'"))
            elif name in ("endCursor", "startCursor"):
                column = "end_cursor" if name == "endCursor" else "start_cursor"
                pairs.append((key, f"coalesce('\"' || {connection}.{column} || '\"', 'null')"))
            else:
                raise NotCompiled(f"PageInfo.{name}")
        return j.obj(pairs)


def joins(laterals: list[Lateral]) -> str:
    return "".join(f" LEFT JOIN LATERAL ({select}) {name} ON true" for select, name in laterals)


def article_tags(row: str) -> list[str]:
    return [f"'article:' || {row}.id"]
