"""Readers' queries compiled to one PostgreSQL statement that builds the answer's JSON.

An anonymous query over the read schema (stories, their sections, bylines, topics, body, people
and comment counts; topics, people, sections and the story lists with their filters, order and
cursors) is answered by one statement whose result is the JSON the resolvers' answer serialises
to, byte for byte: no Python object per field, no round trip per relation. Whatever this module
does not know (search, suggestions, comments threads, `node`, editors' fields, a mutation, any
request with a token, any argument the resolvers would refuse) returns None, and Strawberry's
resolvers answer as they always do; `COMPILED_QUERIES=false` sends every query there (the
reference path). tests/api/test_compiled.py runs both paths over the same data and compares the
bytes.

Arguments are bound parameters, never text in the statement. Cache tags come back from the same
statement (a comma-separated column), so the result cache drops a compiled answer exactly when
it would drop the resolvers' one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import lru_cache, partial
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    validate,
)
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from strawberry.types.arguments import convert_arguments

from api import cache
from api.limits import Limits, estimate_cost, parse_document
from api.related import MAX_RELATED
from api.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor
from api.search import search_arguments
from models import json_sql as j
from models.session import ReadPool
from search import articles as search_articles
from search.client import SearchClient

logger = logging.getLogger("newsroom.compiled")

ARTICLE_KEY = (datetime, int)
# A to-one or list child: the SELECT that computes it beside its parent's row, and its alias.
Lateral = tuple[str, str]
# A field: its JSON text expression, the lateral it needs (if any), its cache tags expression.
Field = tuple[str, Lateral | None, str]


class NotCompiled(Exception):
    """This query takes the resolvers' path, whatever its variables."""


class Refused(Exception):
    """These variables take the resolvers' path: they refuse them, with their own error."""


# What a parameter's value is, given the request's coerced variables.
Getter = Callable[[Any], Any]


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


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Any,
    ) -> None:
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

    # -- objects --------------------------------------------------------------------------------

    def object_select(
        self, type_name: str, nodes: list[FieldNode], source: str, row: str, extra: str = ""
    ) -> str:
        """SELECT j (the object's JSON) and t (its cache tags) for each row of `source`."""
        type_ = self.schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        fields = self.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        builder = _OBJECTS.get(type_name)
        if builder is None:
            raise NotCompiled(type_name)
        pairs: list[tuple[str, str]] = []
        laterals: list[Lateral] = []
        tag_parts: list[str] = list(_OWN_TAGS.get(type_name, lambda r: [])(row))
        for key, field_nodes in fields.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, j.literal(j.string_literal(type_name))))
                continue
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
        return f"SELECT {columns} FROM {source} {row}{_joins(laterals)}"

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
        descending = _enum_name(order) != "OLDEST"
        row = self.statement.alias("a")
        where = scope.replace("{row}", row)
        for argument, before in (("after", False), ("before", True)):
            if given.get(argument) is None:
                continue
            at_param = self.statement.param(_cursor_part(arguments, argument, 0), "timestamptz")
            pk_param = self.statement.param(_cursor_part(arguments, argument, 1), "integer")
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
        type_ = self.schema.get_type("ArticleConnection")
        assert isinstance(type_, GraphQLObjectType)
        fields = self.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        name = self.statement.alias("c")
        p = self.statement.alias("p")
        # The page is read once: every row's node and edge are laterals beside it, and the
        # aggregates below leave out the extra row that only tells whether a next page exists.
        on_page = f"{p}.o >= -{size_param}" if backward else f"{p}.o <= {size_param}"
        laterals: list[Lateral] = []
        aggregates: list[str] = []
        pairs: list[tuple[str, str]] = []
        item_tags: list[str] = []
        for key, field_nodes in fields.items():
            field_name = field_nodes[0].name.value
            if field_name == "__typename":
                pairs.append((key, j.literal('"ArticleConnection"')))
            elif field_name == "totalCount":
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
            f"string_agg({j.tags(*_article_tags(p), *item_tags)}, ',') "
            f"FILTER (WHERE {on_page}) AS t",
        ]
        lateral = f"SELECT {', '.join(aggregates)} FROM {page} {p}{_joins(laterals)}"
        return j.obj(pairs), (lateral, name), f"{name}.t"

    def _edge(self, nodes: list[FieldNode], source: str) -> str:
        type_ = self.schema.get_type("ArticleEdge")
        assert isinstance(type_, GraphQLObjectType)
        fields = self.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        row = self.statement.alias("r")
        pairs: list[tuple[str, str]] = []
        laterals: list[Lateral] = []
        node_tags: list[str] = []
        for key, field_nodes in fields.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, j.literal('"ArticleEdge"')))
            elif name == "cursor":
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
        return f"SELECT {columns} FROM {source} {row}{_joins(laterals)}"

    def _page_info(
        self, nodes: list[FieldNode], connection: str, size_param: str, backward: bool
    ) -> str:
        type_ = self.schema.get_type("PageInfo")
        assert isinstance(type_, GraphQLObjectType)
        fields = self.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        pairs: list[tuple[str, str]] = []
        for key, field_nodes in fields.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, j.literal('"PageInfo"')))
            elif name in ("hasNextPage", "hasPreviousPage"):
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


def _joins(laterals: list[Lateral]) -> str:
    return "".join(f" LEFT JOIN LATERAL ({select}) {name} ON true" for select, name in laterals)


@dataclass(frozen=True)
class Arguments:
    """A field's arguments, for any request's variables."""

    field_def: GraphQLField
    node: FieldNode
    schema: Any = None  # Strawberry's, for `converted`

    def __call__(self, variables: Any) -> dict[str, Any]:
        return get_argument_values(self.field_def, self.node, variables)

    def get(self, name: str) -> Getter:
        return lambda variables: self(variables).get(name)

    def converted(self, variables: Any) -> dict[str, Any]:
        """As the resolver receives them: by their Python names, input objects as their
        classes (a `SearchFilter`, an `ArticleFilter`), enums as members."""
        field = self.field_def.extensions["strawberry-definition"]
        registry = self.schema.schema_converter.scalar_registry
        return convert_arguments(self(variables), field.arguments, registry, self.schema.config)


def _cursor_part(arguments: Arguments, argument: str, index: int) -> Getter:
    def part(variables: Any) -> Any:
        try:
            return decode_cursor(arguments(variables)[argument], ARTICLE_KEY, argument)[index]
        except Exception as exc:  # the resolvers say what is wrong with it
            raise Refused(argument) from exc

    return part


def _default_first(field_def: GraphQLField) -> int | None:
    """The page size when neither `first` nor `last` is given (api.relay.first_argument)."""
    definition = field_def.args["first"].extensions.get("strawberry-definition")
    return getattr(definition, "metadata", {}).get(DEFAULT_PAGE_SIZE)


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.name
    return str(value)


def _article_tags(row: str) -> list[str]:
    return [f"'article:' || {row}.id"]


# -- the fields of each type: (JSON text, lateral or "", tags or "") --------------------------

Builder = Callable[[_Walker, str, str, GraphQLField, list[FieldNode]], Field]


def _scalar(expr: str) -> Field:
    return expr, None, ""


def _article(
    w: _Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "id":
        return _scalar(j.global_id("Article", f"{row}.id"))
    if name in ("slug", "title", "dek", "language"):
        return _scalar(j.string(f"{row}.{name}"))
    if name == "status":
        return _scalar(f"'\"' || upper({row}.status::text) || '\"'")
    if name == "publishedAt":
        return _scalar(j.iso_time(f"{row}.published_at"))
    if name == "updatedAt":
        return _scalar(j.iso_time(f"{row}.updated_at"))
    if name == "section":
        return w.child("Section", nodes, f"(SELECT * FROM sections WHERE id = {row}.section_id)")
    if name == "authors":
        source = (
            f"(SELECT au.*, aa.position AS o FROM article_authors aa "
            f"JOIN authors au ON au.id = aa.author_id WHERE aa.article_id = {row}.id)"
        )
        return w.children("Author", nodes, source, "o")
    if name == "topics":
        source = (
            f"(SELECT tp.*, at.position AS o FROM article_topics at "
            f"JOIN topics tp ON tp.id = at.topic_id WHERE at.article_id = {row}.id)"
        )
        return w.children("Topic", nodes, source, "o")
    if name == "people":
        # The resolvers' order: first mentioned first, then by name.
        source = (
            f"(SELECT m.role, m.mention_count, p.id, p.slug, p.name, p.aliases, p.description, "
            f"row_number() OVER (ORDER BY m.position, p.name) AS o FROM mentions m "
            f"JOIN people p ON p.id = m.person_id "
            f"WHERE m.article_id = {row}.id AND m.suppressed IS false)"
        )
        return w.children("Mention", nodes, source, "o")
    if name == "body":
        return _body(w, row, nodes)
    if name == "related":
        return _related(w, row, field_def, nodes)
    if name == "commentCount":
        return (
            f"({j.visible_comment_count(f'{row}.id')})::text",
            None,
            f"'comments:' || {row}.id",
        )
    raise NotCompiled(f"Article.{name}")


def _related(w: _Walker, row: str, field_def: GraphQLField, nodes: list[FieldNode]) -> Field:
    """The stored list (models/related.py), published stories only, best first."""
    arguments = w.arguments(field_def, nodes[0])

    def limit(variables: Any) -> int:
        value = arguments(variables).get("limit")
        if not isinstance(value, int) or not 0 <= value <= MAX_RELATED:
            raise Refused("limit")
        return value

    source = (
        f"(SELECT rs.*, ra.rank AS o FROM related_articles ra JOIN articles rs "
        f"ON rs.id = ra.related_id WHERE ra.article_id = {row}.id AND {j.published('rs')} "
        f"ORDER BY ra.rank LIMIT {w.statement.param(limit, 'integer')})"
    )
    return w.children("Article", nodes, source, "o")


def _body(w: _Walker, row: str, nodes: list[FieldNode]) -> Field:
    block = w.statement.alias("b")
    cases = []
    for type_name, stored in (("Paragraph", "paragraph"), ("Heading", "heading")):
        type_ = w.schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        fields = w.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        pairs = []
        for key, field_nodes in fields.items():
            field_name = field_nodes[0].name.value
            if field_name == "__typename":
                pairs.append((key, j.literal(j.string_literal(type_name))))
            elif field_name == "text":
                pairs.append((key, j.string(f"{block}.e->>'text'")))
            else:
                raise NotCompiled(f"{type_name}.{field_name}")
        cases.append(f"WHEN {j.literal(stored)} THEN {j.obj(pairs)}")
    item = f"(CASE {block}.e->>'type' {' '.join(cases)} END)"
    name = w.statement.alias("l")
    lateral = (
        f"SELECT {j.array(item, f'{block}.o')} AS j "
        f"FROM json_array_elements({row}.body) WITH ORDINALITY AS {block}(e, o)"
    )
    return f"{name}.j", (lateral, name), ""


def _section(
    w: _Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "id":
        return _scalar(j.global_id("Section", f"{row}.id"))
    if name in ("slug", "name"):
        return _scalar(j.string(f"{row}.{name}"))
    raise NotCompiled(f"Section.{name}")


def _author(
    w: _Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name in ("slug", "name"):
        return _scalar(j.string(f"{row}.{name}"))
    raise NotCompiled(f"Author.{name}")


def _stories_of(
    w: _Walker, nodes: list[FieldNode], field_def: GraphQLField, join: str, parent: str
) -> Field:
    arguments = w.arguments(field_def, nodes[0])
    scope = f"articles {{row}} {join} AND {j.published('{row}')}".replace("%PARENT%", parent)
    count = f"SELECT count(*) FROM {scope}"
    return w.article_connection(nodes, arguments, scope, count, _default_first(field_def))


_BY_TOPIC = "JOIN article_topics bt ON bt.article_id = {row}.id WHERE bt.topic_id = %PARENT%"
_BY_PERSON = (
    "JOIN mentions bm ON bm.article_id = {row}.id "
    "WHERE bm.person_id = %PARENT% AND bm.suppressed IS false"
)


def _topic(
    w: _Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "id":
        return _scalar(j.global_id("Topic", f"{row}.id"))
    if name in ("slug", "name", "description"):
        return _scalar(j.string(f"{row}.{name}"))
    if name == "articles":
        return _stories_of(w, nodes, field_def, _BY_TOPIC, f"{row}.id")
    raise NotCompiled(f"Topic.{name}")


def _person(
    w: _Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "id":
        return _scalar(j.global_id("Person", f"{row}.id"))
    if name in ("slug", "name", "description"):
        return _scalar(j.string(f"{row}.{name}"))
    if name == "aliases":
        alias = w.statement.alias("al")
        return _scalar(
            f"(SELECT {j.array(f'to_json({alias}.v)::text', f'{alias}.o')} FROM "
            f"json_array_elements_text(CASE json_typeof({row}.aliases) WHEN 'array' "
            f"THEN {row}.aliases ELSE '[]'::json END) "
            f"WITH ORDINALITY AS {alias}(v, o))"
        )
    if name == "articles":
        return _stories_of(w, nodes, field_def, _BY_PERSON, f"{row}.id")
    raise NotCompiled(f"Person.{name}")


def _mention(
    w: _Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "role":
        return _scalar(j.string(f"{row}.role"))
    if name == "mentionCount":
        return _scalar(f"{row}.mention_count::text")
    if name == "person":
        return w.child("Person", nodes, f"(SELECT {row}.*)")
    raise NotCompiled(f"Mention.{name}")


_OBJECTS: dict[str, Builder] = {
    "Article": _article,
    "Section": _section,
    "Author": _author,
    "Topic": _topic,
    "Person": _person,
    "Mention": _mention,
}
_OWN_TAGS: dict[str, Callable[[str], list[str]]] = {
    "Article": _article_tags,
    "Section": lambda row: [f"'section:' || {row}.id"],
    "Topic": lambda row: [f"'topic:' || {row}.id"],
    "Person": lambda row: [f"'person:' || {row}.id"],
    # The resolvers build the person of every mention, selected or not.
    "Mention": lambda row: [f"'person:' || {row}.id"],
}


# -- root fields ----------------------------------------------------------------------------


def _root(w: _Walker, nodes: list[FieldNode], query_type: GraphQLObjectType) -> str:
    name = nodes[0].name.value
    if name == "__typename":
        return "SELECT '\"Query\"' AS j, NULL AS t"
    field_def = query_type.fields.get(name)
    if field_def is None:  # __schema, __type
        raise NotCompiled(f"Query.{name}")
    arguments = w.arguments(field_def, nodes[0])
    if name in ("article", "topic", "person"):
        slug = w.statement.param(arguments.get("slug"), "text")
        table, type_name, extra = {
            "article": ("articles", "Article", " AND " + j.published("s")),
            "topic": ("topics", "Topic", ""),
            "person": ("people", "Person", ""),
        }[name]
        row = w.statement.alias("r")
        source = f"(SELECT * FROM {table} s WHERE s.slug = {slug}{extra})"
        return w.object_select(type_name, nodes, source, row)
    if name == "articles":
        where = _filter(w, arguments)
        scope = f"articles {{row}} WHERE {j.published('{row}')}{where}"
        count = f"SELECT count(*) FROM {scope}"
        default = _default_first(field_def)
        return _alone(w.article_connection(nodes, arguments, scope, count, default))
    if name == "sections":
        w.tags.add(cache.LIST)
        source = "(SELECT s.*, row_number() OVER (ORDER BY s.name) AS o FROM sections s)"
        return _alone(w.children("Section", nodes, source, "o"))
    raise NotCompiled(f"Query.{name}")


def _alone(field: Field) -> str:
    value, lateral, tags = field
    joins = _joins([lateral] if lateral else [])
    return f"SELECT {value} AS j, {tags or 'NULL'} AS t FROM (SELECT 1) d{joins}"


def _filter(w: _Walker, arguments: Arguments) -> str:
    """`models.listing._filtered` in SQL text over `{row}`; the differential test holds the
    two to the same answers."""
    given = arguments.converted(w.variables).get("filter")
    if given is None:
        return ""
    where = _model_filter(given)

    def value(name: str) -> Getter:
        def get(variables: Any) -> Any:
            found = getattr(_model_filter(arguments.converted(variables).get("filter")), name)
            return list(found) if isinstance(found, tuple) else found

        return get

    sql = ""
    if where.topics:
        slugs = w.statement.param(value("topics"), "text[]")
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM unnest({slugs}) ft(slug) WHERE NOT EXISTS ("
            "SELECT 1 FROM article_topics fa JOIN topics ftt ON ftt.id = fa.topic_id "
            "WHERE fa.article_id = {row}.id AND ftt.slug = ft.slug))"
        )
    if where.people:
        slugs = w.statement.param(value("people"), "text[]")
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM unnest({slugs}) fp(slug) WHERE NOT EXISTS ("
            "SELECT 1 FROM mentions fm JOIN people fpp ON fpp.id = fm.person_id "
            "WHERE fm.article_id = {row}.id AND fpp.slug = fp.slug AND fm.suppressed IS false))"
        )
    if where.section is not None:
        section = w.statement.param(value("section"), "text")
        sql += f" AND {{row}}.section_id IN (SELECT id FROM sections WHERE slug = {section})"
    if where.published_after is not None:
        after = w.statement.param(value("published_after"), "timestamptz")
        sql += f" AND {{row}}.published_at >= {after}"
    if where.published_before is not None:
        before = w.statement.param(value("published_before"), "timestamptz")
        sql += f" AND {{row}}.published_at < {before}"
    if where.language is not None:
        sql += f" AND {{row}}.language = {w.statement.param(value('language'), 'text')}"
    return sql


def _model_filter(given: Any) -> Any:
    try:
        return given.to_model()  # refuses a time without a zone, as the resolver does
    except Exception as exc:
        raise Refused("filter") from exc


# -- site search ------------------------------------------------------------------------------

# An object the search answer writes in Python: (response key, field name, its own selection).
Selection = list[tuple[str, str, "Selection"]]
# The fields of each object, by type; `label` is left to the resolvers (it reads SQL per value).
_SEARCH_FIELDS = {
    "SearchResult": {
        "totalHits",
        "totalPages",
        "page",
        "hitsPerPage",
        "processingTimeMs",
        "degraded",
        "hits",
        "facets",
    },
    "SearchHit": {"article", "highlight"},
    "Highlight": {"title", "snippet"},
    "SearchFacets": {"topics", "people", "sections", "years"},
    "FacetValue": {"value", "count"},
}
_PAGE_FIELDS = {
    "totalHits": "total_hits",
    "totalPages": "total_pages",
    "page": "page",
    "hitsPerPage": "hits_per_page",
    "processingTimeMs": "processing_time_ms",
}


@dataclass
class SearchPlan:
    """`search` at the root: its arguments, its selection, and a statement over the hits' ids
    ($1) that answers one row per published hit, with the story's JSON when it is selected."""

    key: str
    arguments: Arguments
    selection: Selection

    def request(self, variables: Any) -> tuple[str, int, int, Any, search_articles.Sort]:
        """What to ask Meilisearch; Refused for what the resolver refuses (api/search.py)."""
        given = self.arguments.converted(variables)
        page, per_page = given["page"], given["hits_per_page"]
        try:
            text, where = search_arguments(given["query"], page, per_page, given.get("filter"))
        except Exception as exc:
            raise Refused("search") from exc
        return text, page, per_page, where, search_articles.Sort(given["sort"].value)

    def write(self, found: search_articles.SearchPage, stories: dict[int, str]) -> bytes:
        """The `data` object, as the resolvers write it: hits SQL does not show are left out.
        Built as dicts in the selection's order (the stories' JSON as orjson fragments) and
        written by one orjson call: a page has up to 400 facet values."""

        def result_value(name: str, selection: Selection) -> Any:
            if name == "hits":
                return [
                    _fields(selection, "SearchHit", partial(_hit, hit, stories[n]))
                    for n, hit in enumerate(found.hits, 1)
                    if n in stories
                ]
            if name == "facets":
                return _fields(selection, "SearchFacets", partial(_facet, found))
            if name == "degraded":
                return False
            return getattr(found, _PAGE_FIELDS[name])

        data = {self.key: _fields(self.selection, "SearchResult", result_value)}
        return orjson.dumps(data)


def _hit(hit: search_articles.Hit, story: str, name: str, selection: Selection) -> Any:
    if name == "article":
        return orjson.Fragment(story)
    return _fields(selection, "Highlight", lambda field, _: getattr(hit, field))


def _facet(found: search_articles.SearchPage, name: str, selection: Selection) -> Any:
    keys = [(k, n) for k, n, _ in selection]
    return [
        {
            k: "FacetValue" if n == "__typename" else value if n == "value" else count
            for k, n in keys
        }
        for value, count in found.facets.get(name, ())
    ]


def _fields(
    selection: Selection, type_name: str, value: Callable[[str, Selection], Any]
) -> dict[str, Any]:
    """One object of the answer: its fields' values by response key, in the selection's order."""
    return {
        key: type_name if name == "__typename" else value(name, sub) for key, name, sub in selection
    }


def _search(w: _Walker, key: str, nodes: list[FieldNode], field_def: GraphQLField) -> Compiled:
    """The plan for `search` alone at the root (compile_query)."""
    plan = SearchPlan(key, w.arguments(field_def, nodes[0]), [])
    # The first parameter's getter gives the request for Meilisearch; its hits' ids replace it.
    ids = w.statement.param(plan.request, "bigint[]")
    stories: list[FieldNode] = []
    plan.selection = _search_selection(w, "SearchResult", nodes, stories)
    source = (
        f"(SELECT a.*, u.o FROM unnest({ids}) WITH ORDINALITY u(id, o) "
        f"JOIN articles a ON a.id = u.id WHERE {j.published('a')})"
    )
    if stories:
        row = w.statement.alias("r")
        inner = w.object_select("Article", stories, source, row, extra=f", {row}.o AS o")
    else:
        inner = f"SELECT NULL::text AS j, NULL::text AS t, h.o FROM {source} h"
    sql = (
        "SELECT array_agg(h.o ORDER BY h.o) AS o, array_agg(h.j ORDER BY h.o) AS j, "
        f"string_agg(h.t, ',') AS t FROM ({inner}) h"
    )
    # The resolver reads these whatever is selected (api/search.py).
    tags = {*w.tags, cache.LIST, cache.SEARCH}
    return Compiled(sql, w.statement.getters, [key], tags, [], generic=True, search=plan)


def _search_selection(
    w: _Walker, type_name: str, nodes: list[FieldNode], stories: list[FieldNode]
) -> Selection:
    type_ = w.schema.get_type(type_name)
    assert isinstance(type_, GraphQLObjectType)
    selection: Selection = []
    fields = w.collect(type_, [n.selection_set for n in nodes if n.selection_set])
    for key, field_nodes in fields.items():
        name = field_nodes[0].name.value
        if name != "__typename" and name not in _SEARCH_FIELDS[type_name]:
            raise NotCompiled(f"{type_name}.{name}")
        if name == "article":
            if stories:  # two selections of the hits' stories: one statement serves one
                raise NotCompiled("SearchHit.article twice")
            stories.extend(field_nodes)
            selection.append((key, name, []))
            continue
        field_type = type_.fields[name].type if name != "__typename" else None
        named = get_named_type(field_type) if field_type is not None else None
        if isinstance(named, GraphQLObjectType):
            selection.append((key, name, _search_selection(w, named.name, field_nodes, stories)))
        else:
            selection.append((key, name, []))
    return selection


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
    walker = _Walker(schema, fragments, variables)
    query_type = schema.query_type
    assert query_type is not None
    try:
        fields = walker.collect(query_type, [operation.selection_set])
        if [nodes[0].name.value for nodes in fields.values()] == ["search"]:
            [(key, nodes)] = fields.items()
            return _search(walker, key, nodes, query_type.fields["search"])
        columns, laterals, keys, nullable = [], [], [], []
        for n, (key, nodes) in enumerate(fields.items()):
            laterals.append((_root(walker, nodes, query_type), f"q{n}"))
            columns.append(f"q{n}.j, q{n}.t")
            keys.append(key)
            if nodes[0].name.value in ("article", "topic", "person"):
                nullable.append(key)
    except NotCompiled as exc:
        logger.debug("not compiled: %s", exc)
        return None
    sql = f"SELECT {', '.join(columns)} FROM (SELECT 1) root{_joins(laterals)}"
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
    operation = _operation(document, operation_name)
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


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
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


def _cost(
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


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@lru_cache(maxsize=256)
def _valid(schema: GraphQLSchema, query: str, limits: Limits) -> bool:
    # Kept by the text, as parse_document keeps the document (which it returns from its cache
    # here): a graphql-core node's hash walks the whole tree, 3 % of a page's time as a key.
    return not validate(schema, parse_document(query, limits).document)


async def _searched(
    compiled: Compiled,
    plan: SearchPlan,
    params: list[Any],
    pool: ReadPool,
    client: SearchClient,
) -> tuple[bytes, set[str]] | None:
    """Meilisearch's page, then one statement for its hits; None for the resolvers (which
    answer from SQL when the engine fails, and report the database when it fails)."""
    text, page, per_page, where, sort = params[0]
    try:
        found = await search_articles.search_articles(
            client, text, page=page, hits_per_page=per_page, where=where, sort=sort
        )
        ids = [hit.article_id for hit in found.hits]
        row = await pool.fetchrow(compiled.sql, [ids, *params[1:]], generic=True)
    except Exception as exc:
        logger.warning("compiled search failed, answering with the resolvers: %s", exc)
        return None
    if row["o"] is None:
        stories: dict[int, str] = {}
    else:
        stories = dict(zip(row["o"], row["j"] or [None] * len(row["o"]), strict=True))
    for n, hit in enumerate(found.hits, 1):
        if n not in stories:
            # The index is behind SQL (the outbox will catch up): never show what SQL hides.
            logger.warning("search hit %s is not a published story; skipped", hit.article_id)
    tags = set(compiled.tags)
    tags.update(t for t in (row["t"] or "").split(",") if t)
    return plan.write(found, stories), tags


async def answer(
    schema: Any,
    pool: ReadPool,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits,
    search: SearchClient | None = None,
) -> tuple[bytes, set[str]] | None:
    """The whole response body and its cache tags, or None for the resolvers' path."""
    core: GraphQLSchema = schema._schema
    if "\x00" in query or _has_nul(variables):
        return None  # the resolvers refuse it (api/text.py); PostgreSQL text cannot hold it
    try:
        parsed = parse_document(query, limits)
        shape = parsed.shape(operation_name)
    except Exception:  # too large, not GraphQL, over a limit: the resolvers' path refuses it
        return None
    if shape is None or not _valid(core, query, limits):
        return None
    cost = _cost(core, parsed.document, query, operation_name, variables or {})
    if cost is None or cost > limits.max_cost:
        return None
    found = plan(core, query, parsed.document, operation_name, variables)
    if found is None:
        return None
    compiled, params = found
    if compiled.search is not None:
        if search is None:
            return None  # the resolvers answer from SQL, marked degraded
        answered = await _searched(compiled, compiled.search, params, pool, search)
        if answered is None:
            return None
        data, tags = answered
    else:
        try:
            row = await pool.fetchrow(compiled.sql, params, generic=compiled.generic)
        except Exception as exc:  # the database is away, say: the resolvers answer with it
            logger.warning("compiled query failed, answering with the resolvers: %s", exc)
            return None
        data, tags = assemble(compiled, row)
    extensions = orjson.dumps(
        {
            "cost": {
                "requested": cost,
                "limit": limits.max_cost,
                "depth": shape.depth,
                "fields": shape.fields,
            }
        }
    )
    return b'{"data":' + data + b',"extensions":' + extensions + b"}", tags
