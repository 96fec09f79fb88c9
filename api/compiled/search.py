"""`search` compiled: Meilisearch's page, then one statement over its hits for the stories SQL
shows; the answer written as the resolvers write it (api/search.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    get_named_type,
)

from api import cache
from api.compiled.arguments import Arguments, Refused
from api.compiled.walker import Compiled, NotCompiled, Walker
from api.search import search_arguments
from models import json_sql as j
from search import articles as search_articles

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


def search_plan(w: Walker, key: str, nodes: list[FieldNode], field_def: GraphQLField) -> Compiled:
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
    w: Walker, type_name: str, nodes: list[FieldNode], stories: list[FieldNode]
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
