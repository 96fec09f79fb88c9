"""PostgreSQL text that builds JSON, for the compiled read path (api/compiled.py).

The compiled path answers a reader's query with one statement whose result is the answer's JSON,
byte for byte what the resolvers' answer serialises to: compact (no spaces), keys in the order
the query asked for them, strings escaped as orjson escapes them (PostgreSQL's `to_json` escapes
the same characters the same way), times as Python's `isoformat()` writes them, IDs and cursors
in the same base64. PostgreSQL's own `json_build_object` and `json_agg` put spaces and newlines
between items, so objects and arrays are concatenated as text here.

What readers may see (a published story, a visible comment) is not written again here: the
predicates are the models' own SQLAlchemy expressions, compiled once to text for an alias.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.util import ClauseAdapter

from models.article import Article, is_published
from models.comment import Comment, visible_comments

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_ALIAS = "__alias__"
_OUTER = "__outer__"


def _text(clause: sa.ClauseElement) -> str:
    # Only constants of the models (a status) are bound here, never a reader's input.
    return str(clause.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


@cache
def _published_template() -> str:
    alias = Article.__table__.alias(_ALIAS)
    return _text(ClauseAdapter(alias).traverse(is_published()))


def published(alias: str) -> str:
    """`is_published()` for the articles row named `alias`."""
    return _published_template().replace(_ALIAS, alias)


@cache
def _comment_count_template() -> str:
    stmt = visible_comments(sa.select(sa.func.count()).select_from(Comment)).where(
        Comment.article_id == sa.literal_column(_OUTER)
    )
    return _text(stmt)


def visible_comment_count(article_id: str) -> str:
    """The number of comments a reader sees on the story `article_id` (an SQL expression)."""
    return "(" + _comment_count_template().replace(_OUTER, article_id) + ")"


def string(expr: str) -> str:
    """A text value as a JSON string, or null."""
    return f"coalesce(to_json({expr})::text, 'null')"


def number(expr: str) -> str:
    return f"coalesce(({expr})::text, 'null')"


def boolean(expr: str) -> str:
    return f"(CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' ELSE 'null' END)"


def literal(value: str) -> str:
    """Constant JSON text (a type name, a key): written by us, never by a reader."""
    return "'" + value.replace("'", "''") + "'"


def iso_time(expr: str) -> str:
    """A timestamptz as `datetime.isoformat()` writes it in UTC: microseconds only when there are
    some, and `+00:00`."""
    utc = f"({expr} AT TIME ZONE 'UTC')"
    return (
        f"(CASE WHEN {expr} IS NULL THEN 'null' ELSE '\"' || "
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"(CASE WHEN extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END) || '+00:00\"' END)"
    )


def base64url(text_expr: str) -> str:
    """`base64.urlsafe_b64encode` of UTF-8 text (PostgreSQL wraps lines at 76: unwrapped)."""
    return f"translate(encode(convert_to({text_expr}, 'UTF8'), 'base64'), E'+/\\n', '-_')"


def global_id(type_name: str, pk: str) -> str:
    """The Relay ID of `api.relay.to_global_id`, as a JSON string."""
    return "'\"' || " + base64url(f"{literal(type_name + ':')} || {pk}") + " || '\"'"


def time_id_cursor(time_expr: str, pk: str) -> str:
    """`api.relay.encode_cursor((time, id))` as text: base64 of `["<isoformat>",<id>]`."""
    return base64url(f"'[' || {iso_time(time_expr)} || ',' || {pk} || ']'")


def obj(pairs: list[tuple[str, str]]) -> str:
    """A JSON object from (key, JSON text expression) pairs, keys in the order given."""
    if not pairs:
        return "'{}'"
    parts = []
    for n, (key, value) in enumerate(pairs):
        parts.append(literal(("{" if n == 0 else ",") + string_literal(key) + ":"))
        parts.append(value)
    return "(" + " || ".join(parts) + " || '}')"


def string_literal(text: str) -> str:
    """A key as JSON (GraphQL names are ASCII letters, digits and underscores)."""
    return '"' + text + '"'


def array(items: str, order: str) -> str:
    """An aggregate: the JSON array of `items` in `order` (`[]` when there are none)."""
    return f"coalesce('[' || string_agg({items}, ',' ORDER BY {order}) || ']', '[]')"


def tags(*parts: str) -> str:
    """Cache tags as comma-separated text (NULL parts are skipped)."""
    return "concat_ws(','" + "".join(", " + part for part in parts) + ")" if parts else "NULL"
