"""Each compiled type's fields as JSON text in SQL, and the root fields of the read schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
)

from api import cache
from api.compiled.arguments import Arguments, Getter, Refused, default_first
from api.compiled.walker import Field, NotCompiled, Walker, article_tags, joins
from api.related import MAX_RELATED
from models import json_sql as j

# -- the fields of each type: (JSON text, lateral or "", tags or "") --------------------------

Builder = Callable[[Walker, str, str, GraphQLField, list[FieldNode]], Field]


def _scalar(expr: str) -> Field:
    return expr, None, ""


def _article(
    w: Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
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
    if name == "scheduledAt":
        return _scalar(j.iso_time(f"{row}.scheduled_at"))
    if name == "corrections":
        # models.correction.notes_by_article's order: oldest first.
        source = (
            f"(SELECT cn.*, row_number() OVER (ORDER BY cn.created_at, cn.id) AS o "
            f"FROM correction_notes cn WHERE cn.article_id = {row}.id)"
        )
        return w.children("CorrectionNote", nodes, source, "o")
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


def _related(w: Walker, row: str, field_def: GraphQLField, nodes: list[FieldNode]) -> Field:
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


def _body(w: Walker, row: str, nodes: list[FieldNode]) -> Field:
    block = w.statement.alias("b")
    cases = []
    # A picture's block compiles only as far as its __typename: anything more (its image) is
    # the resolvers' to answer, as is Article.leadImage (docs/compiled.md).
    blocks = (("Paragraph", "paragraph"), ("Heading", "heading"), ("ImageBlock", "image"))
    for type_name, stored in blocks:
        type_ = w.schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        fields = w.collect(type_, [n.selection_set for n in nodes if n.selection_set])
        pairs = []
        for key, field_nodes in fields.items():
            field_name = field_nodes[0].name.value
            if field_name == "__typename":
                pairs.append((key, j.literal(j.string_literal(type_name))))
            elif field_name == "text" and type_name != "ImageBlock":
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


def _author(
    w: Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name in ("slug", "name"):
        return _scalar(j.string(f"{row}.{name}"))
    raise NotCompiled(f"Author.{name}")


def _stories_of(
    w: Walker, nodes: list[FieldNode], field_def: GraphQLField, join: str, parent: str
) -> Field:
    arguments = w.arguments(field_def, nodes[0])
    scope = f"articles {{row}} {join} AND {j.published('{row}')}".replace("%PARENT%", parent)
    count = f"SELECT count(*) FROM {scope}"
    return w.article_connection(nodes, arguments, scope, count, default_first(field_def))


_BY_TOPIC = "JOIN article_topics bt ON bt.article_id = {row}.id WHERE bt.topic_id = %PARENT%"
_BY_PERSON = (
    "JOIN mentions bm ON bm.article_id = {row}.id "
    "WHERE bm.person_id = %PARENT% AND bm.suppressed IS false"
)


def _named(type_name: str, texts: tuple[str, ...], stories: str | None = None) -> Builder:
    """Section, Topic, Person: the global id, text columns as they are, and with a `stories`
    join the published stories filed under the row."""

    def build(
        w: Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
    ) -> Field:
        if name == "id":
            return _scalar(j.global_id(type_name, f"{row}.id"))
        if name in texts:
            return _scalar(j.string(f"{row}.{name}"))
        if name == "articles" and stories is not None:
            return _stories_of(w, nodes, field_def, stories, f"{row}.id")
        raise NotCompiled(f"{type_name}.{name}")

    return build


_section = _named("Section", ("slug", "name"))
_topic = _named("Topic", ("slug", "name", "description"), _BY_TOPIC)
_person_named = _named("Person", ("slug", "name", "description"), _BY_PERSON)


def _person(
    w: Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "aliases":
        alias = w.statement.alias("al")
        return _scalar(
            f"(SELECT {j.array(f'to_json({alias}.v)::text', f'{alias}.o')} FROM "
            f"json_array_elements_text(CASE json_typeof({row}.aliases) WHEN 'array' "
            f"THEN {row}.aliases ELSE '[]'::json END) "
            f"WITH ORDINALITY AS {alias}(v, o))"
        )
    return _person_named(w, row, name, field_def, nodes)


def _mention(
    w: Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "role":
        return _scalar(j.string(f"{row}.role"))
    if name == "mentionCount":
        return _scalar(f"{row}.mention_count::text")
    if name == "person":
        return w.child("Person", nodes, f"(SELECT {row}.*)")
    raise NotCompiled(f"Mention.{name}")


def _correction_note(
    w: Walker, row: str, name: str, field_def: GraphQLField, nodes: list[FieldNode]
) -> Field:
    if name == "text":
        return _scalar(j.string(f"{row}.text"))
    if name == "createdAt":
        return _scalar(j.iso_time(f"{row}.created_at"))
    raise NotCompiled(f"CorrectionNote.{name}")


OBJECTS: dict[str, Builder] = {
    "Article": _article,
    "Section": _section,
    "Author": _author,
    "Topic": _topic,
    "Person": _person,
    "Mention": _mention,
    "CorrectionNote": _correction_note,
}
OWN_TAGS: dict[str, Callable[[str], list[str]]] = {
    "Article": article_tags,
    "Section": lambda row: [f"'section:' || {row}.id"],
    "Topic": lambda row: [f"'topic:' || {row}.id"],
    "Person": lambda row: [f"'person:' || {row}.id"],
    # The resolvers build the person of every mention, selected or not.
    "Mention": lambda row: [f"'person:' || {row}.id"],
}


# -- root fields ----------------------------------------------------------------------------


def root_field(w: Walker, nodes: list[FieldNode], query_type: GraphQLObjectType) -> str:
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
        default = default_first(field_def)
        return alone(w.article_connection(nodes, arguments, scope, count, default))
    if name == "sections":
        w.tags.add(cache.LIST)
        source = "(SELECT s.*, row_number() OVER (ORDER BY s.name) AS o FROM sections s)"
        return alone(w.children("Section", nodes, source, "o"))
    raise NotCompiled(f"Query.{name}")


def alone(field: Field) -> str:
    value, lateral, tags = field
    lateral_join = joins([lateral] if lateral else [])
    return f"SELECT {value} AS j, {tags or 'NULL'} AS t FROM (SELECT 1) d{lateral_join}"


def _filter(w: Walker, arguments: Arguments) -> str:
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
