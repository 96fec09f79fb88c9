"""GraphQL for site search: hits, highlights and facets; SQL answers when the search engine is
unreachable, marked `degraded`. The search box's suggestions: api/suggestions.py."""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime
from typing import Any, NamedTuple, cast

import strawberry

from api import cache
from api.article import Article, story_filter
from api.context import Info
from api.errors import BadUserInput, require_between
from api.loaders import read
from models import article as article_model
from models import listing
from models.base import AnyRow
from search import articles as search_articles
from search.errors import SearchError

logger = logging.getLogger("newsroom.api")

MAX_HITS_PER_PAGE = 50
MAX_QUERY_LENGTH = 500


# search/'s own order, exposed as it is.
SearchSort = strawberry.enum(
    search_articles.Sort, name="SearchSort", description="Order of search hits."
)


@strawberry.input(description="Narrows search hits; every given condition must hold.")
class SearchFilter:
    topics: list[str] | None = strawberry.field(default=None, description="Topic slugs, all.")
    people: list[str] | None = strawberry.field(default=None, description="Person slugs, all.")
    section: str | None = strawberry.field(default=None, description="A section slug.")
    published_after: datetime | None = None
    published_before: datetime | None = None

    def to_where(self) -> search_articles.Where:
        return story_filter(self)


@strawberry.type(description="Matched text as HTML: escaped, with <mark> around matches.")
class Highlight:
    title: str
    snippet: str = strawberry.field(description="A passage cropped around the best match.")


@strawberry.type
class SearchHit:
    article: Article
    highlight: Highlight


@strawberry.type(description="How many hits have this value.")
class FacetValue:
    value: str = strawberry.field(description="The value to filter by (a slug or a year).")
    count: int
    kind: strawberry.Private[str]

    @strawberry.field(description="The value as readers should see it.")
    async def label(self, info: Info) -> str:
        # Looked up only when asked for: a sidebar that shows slugs costs no SQL.
        if self.kind == "years":
            return self.value
        name = await info.context.loaders.facet_label.load((self.kind, self.value))
        return name or self.value


@strawberry.type(description="Hit counts per value, most frequent first (up to 100 values).")
class SearchFacets:
    topics: list[FacetValue]
    people: list[FacetValue]
    sections: list[FacetValue]
    years: list[FacetValue]


@strawberry.type(description="A page of search hits.")
class SearchResult:
    total_hits: int = strawberry.field(description="Exact number of matching stories.")
    total_pages: int
    page: int
    hits_per_page: int
    processing_time_ms: int
    degraded: bool = strawberry.field(
        description="True when the search engine was unreachable and SQL answered instead: "
        "no typo tolerance and no facets."
    )
    hits: list[SearchHit]
    facets: SearchFacets


def check_query(query: str) -> str:
    """The query as searched for (trimmed), or BadUserInput if it is too long."""
    if len(query) > MAX_QUERY_LENGTH:
        raise BadUserInput("query", f"at most {MAX_QUERY_LENGTH} characters")
    return query.strip()


def _mark_plain(text: str, words: list[str]) -> str:
    """Degraded highlighting: escape, then mark whole-word-prefix matches of the query words."""
    escaped = search_articles.render_highlight(text)
    if not words:
        return escaped
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(search_articles.render_highlight(w)) for w in words) + r")",
        re.IGNORECASE,
    )
    return pattern.sub(r"<mark>\1</mark>", escaped)


# What the search answer is served from: tuples, not Strawberry objects. A page has up to 400
# facet values; graphql-core reads fields off any object (these types check none), and
# api/execution.py completes an object of scalars in one loop.
class _FacetCount(NamedTuple):  # a FacetValue
    value: str
    # The GraphQL field's name: it shadows tuple.count, which nothing here calls.
    count: int  # type: ignore[assignment]
    kind: str


class _Highlight(NamedTuple):  # a Highlight
    title: str
    snippet: str


class _Hit(NamedTuple):  # a SearchHit
    article: Article
    highlight: _Highlight


class _Section(NamedTuple):  # a row of models.article.sections_by_ids
    id: int
    slug: str
    name: str


def _facets(page: search_articles.SearchPage) -> SearchFacets:
    facets: dict[str, Any] = {  # tuples in place of FacetValue objects (see above)
        kind: [_FacetCount(value, count, kind) for value, count in page.facets.get(kind, ())]
        for kind in ("topics", "people", "sections", "years")
    }
    return SearchFacets(**facets)


async def _from_engine(
    info: Info, query: str, page: int, per_page: int, where: Any, sort: search_articles.Sort
) -> SearchResult:
    assert info.context.search is not None
    pending = search_articles.PageSearch(
        info.context.search, query, page=page, hits_per_page=per_page, where=where, sort=sort
    )
    async with pending:
        ids = [hit.article_id for hit in await pending.hits()]
        # One statement checks the hits against SQL and reads their sections, which a results
        # page shows (the section loader is primed, so `section` costs no statement of its
        # own), while Meilisearch counts the facets.
        rows = (
            await read(info.context.engine, article_model.published_articles_with_sections, ids)
            if ids
            else {}
        )
        found = await pending.page()
    sections = info.context.loaders.section_by_id
    hits: list[Any] = []
    for hit in found.hits:
        row = rows.get(hit.article_id)
        if row is None:
            # The index is behind SQL (the outbox will catch up): never show what SQL hides.
            logger.warning("search hit %s is not a published story; skipped", hit.article_id)
            continue
        # A tuple in place of the loader's row: Section.from_row reads the same three names.
        section = cast("AnyRow", _Section(row.section_id, row.section_slug, row.section_name))
        sections.prime(row.section_id, section)
        hits.append(_Hit(Article.from_row(row), _Highlight(hit.title, hit.snippet)))
    return SearchResult(
        total_hits=found.total_hits,
        total_pages=found.total_pages,
        page=found.page,
        hits_per_page=found.hits_per_page,
        processing_time_ms=found.processing_time_ms,
        degraded=False,
        hits=hits,
        facets=_facets(found),
    )


async def _from_sql(
    info: Info, query: str, page: int, per_page: int, where: Any, sort: search_articles.Sort
) -> SearchResult:
    words = search_articles.tokenize(query)
    rows, total = await read(
        info.context.engine,
        lambda conn: listing.search_published(
            conn,
            words,
            where,
            offset=(page - 1) * per_page,
            limit=per_page,
            newest_first=sort is not search_articles.Sort.OLDEST,
        ),
    )
    hits = [
        SearchHit(
            article=Article.from_row(row),
            highlight=Highlight(
                title=_mark_plain(row.title, words), snippet=_mark_plain(row.dek or "", words)
            ),
        )
        for row in rows
    ]
    return SearchResult(
        total_hits=total,
        total_pages=math.ceil(total / per_page),
        page=page,
        hits_per_page=per_page,
        processing_time_ms=0,
        degraded=True,
        hits=hits,
        facets=SearchFacets(topics=[], people=[], sections=[], years=[]),
    )


def search_arguments(
    query: str, page: int, hits_per_page: int, filter: SearchFilter | None
) -> tuple[str, search_articles.Where]:
    """The text to search for and the conditions, or BadUserInput: the resolver's checks, which
    the compiled path (api/compiled/search.py) makes too."""
    text = check_query(query)
    if page < 1:
        raise BadUserInput("page", f"must be 1 or more, got {page}")
    require_between("hitsPerPage", hits_per_page, 1, MAX_HITS_PER_PAGE)
    return text, filter.to_where() if filter else search_articles.Where()


@strawberry.type
class SearchQuery:
    @strawberry.field(description="Site search: typo-tolerant, highlighted, faceted.")
    async def search(
        self,
        info: Info,
        query: str,
        page: int = 1,
        hits_per_page: int = 10,
        filter: SearchFilter | None = None,
        sort: search_articles.Sort = search_articles.Sort.RELEVANCE,
    ) -> SearchResult:
        text, where = search_arguments(query, page, hits_per_page, filter)
        cache.read(cache.LIST, cache.SEARCH)
        if info.context.search is not None:
            try:
                return await _from_engine(info, text, page, hits_per_page, where, sort)
            except SearchError as exc:
                logger.warning("search engine unavailable, answering from SQL: %s", exc)
        # Keep a degraded answer out of the cache: search may be back on the next request.
        cache.read(cache.VOLATILE)
        return await _from_sql(info, text, page, hits_per_page, where, sort)
