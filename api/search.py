"""GraphQL for site search, search-box suggestions and related stories; SQL answers when the
search engine is unreachable, marked `degraded`."""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api import cache
from api.article import Article, require_time_zones
from api.context import Info
from api.errors import BadUserInput
from api.loaders import read
from api.person import Person
from api.topic import Topic
from models import listing
from search import articles as search_articles
from search.errors import SearchError

logger = logging.getLogger("newsroom.api")

MAX_HITS_PER_PAGE = 50
MAX_QUERY_LENGTH = 500
MAX_SUGGESTIONS = 20


@strawberry.enum(description="Order of search hits.")
class SearchSort(Enum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    OLDEST = "oldest"


@strawberry.input(description="Narrows search hits; every given condition must hold.")
class SearchFilter:
    topics: list[str] | None = strawberry.field(default=None, description="Topic slugs, all.")
    people: list[str] | None = strawberry.field(default=None, description="Person slugs, all.")
    section: str | None = strawberry.field(default=None, description="A section slug.")
    published_after: datetime | None = None
    published_before: datetime | None = None

    def to_where(self) -> search_articles.Where:
        require_time_zones(self.published_after, self.published_before)
        return search_articles.Where(
            topics=tuple(self.topics or ()),
            people=tuple(self.people or ()),
            section=self.section,
            published_after=self.published_after,
            published_before=self.published_before,
        )


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


@strawberry.type(description="What to offer under the search box while the reader types.")
class Suggestions:
    articles: list[Article]
    people: list[Person]
    topics: list[Topic]


def _check_query(query: str) -> str:
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


def _facets(page: search_articles.SearchPage) -> SearchFacets:
    def values(kind: str) -> list[FacetValue]:
        return [
            FacetValue(value=value, count=count, kind=kind)
            for value, count in page.facets.get(kind, [])
        ]

    return SearchFacets(
        topics=values("topics"),
        people=values("people"),
        sections=values("sections"),
        years=values("years"),
    )


async def _from_engine(
    info: Info, query: str, page: int, per_page: int, where: Any, sort: SearchSort
) -> SearchResult:
    assert info.context.search is not None
    found = await search_articles.search_articles(
        info.context.search,
        query,
        page=page,
        hits_per_page=per_page,
        where=where,
        sort=search_articles.Sort(sort.value),
    )
    rows = await info.context.loaders.article_by_id.load_many([h.article_id for h in found.hits])
    facets = _facets(found)
    hits = []
    for hit, row in zip(found.hits, rows, strict=True):
        if row is None:
            # The index is behind SQL (the outbox will catch up): never show what SQL hides.
            logger.warning("search hit %s is not a published story; skipped", hit.article_id)
            continue
        hits.append(
            SearchHit(
                article=Article.from_row(row),
                highlight=Highlight(title=hit.title, snippet=hit.snippet),
            )
        )
    return SearchResult(
        total_hits=found.total_hits,
        total_pages=found.total_pages,
        page=found.page,
        hits_per_page=found.hits_per_page,
        processing_time_ms=found.processing_time_ms,
        degraded=False,
        hits=hits,
        facets=facets,
    )


async def _from_sql(
    info: Info, query: str, page: int, per_page: int, where: Any, sort: SearchSort
) -> SearchResult:
    words = search_articles.tokenize(query)
    article_filter = listing.ArticleFilter(
        topics=where.topics,
        people=where.people,
        section=where.section,
        published_after=where.published_after,
        published_before=where.published_before,
    )
    rows, total = await read(
        info.context.engine,
        lambda conn: listing.search_published(
            conn,
            words,
            article_filter,
            offset=(page - 1) * per_page,
            limit=per_page,
            newest_first=sort is not SearchSort.OLDEST,
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
        sort: SearchSort = SearchSort.RELEVANCE,
    ) -> SearchResult:
        text = _check_query(query)
        if page < 1:
            raise BadUserInput("page", f"must be 1 or more, got {page}")
        if not 1 <= hits_per_page <= MAX_HITS_PER_PAGE:
            raise BadUserInput(
                "hitsPerPage", f"must be between 1 and {MAX_HITS_PER_PAGE}, got {hits_per_page}"
            )
        where = filter.to_where() if filter else search_articles.Where()
        cache.read(cache.LIST, cache.SEARCH)
        if info.context.search is not None:
            try:
                return await _from_engine(info, text, page, hits_per_page, where, sort)
            except SearchError as exc:
                logger.warning("search engine unavailable, answering from SQL: %s", exc)
        # Keep a degraded answer out of the cache: search may be back on the next request.
        cache.read(cache.VOLATILE)
        return await _from_sql(info, text, page, hits_per_page, where, sort)

    @strawberry.field(description="Suggestions for the search box, matching from the first letter.")
    async def suggest(self, info: Info, prefix: str, limit: int = 8) -> Suggestions:
        text = _check_query(prefix)
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise BadUserInput("limit", f"must be between 1 and {MAX_SUGGESTIONS}, got {limit}")
        if not text:
            return Suggestions(articles=[], people=[], topics=[])
        cache.read(cache.LIST, cache.SEARCH)
        engine = info.context.engine
        last_word = (search_articles.tokenize(text) or [text])[-1]
        people = await read(engine, listing.people_with_prefix, last_word, limit)
        topics = await read(engine, listing.topics_with_prefix, last_word, limit)
        articles: list[Any] | None = None
        if info.context.search is not None:
            try:
                ids = await search_articles.suggest_articles(info.context.search, text, limit)
                found = await info.context.loaders.article_by_id.load_many(ids)
                articles = [row for row in found if row is not None]
            except SearchError as exc:
                logger.warning("suggestions from SQL, search engine unavailable: %s", exc)
                cache.read(cache.VOLATILE)
        if articles is None:
            articles = await read(engine, listing.published_titles_with_prefix, last_word, limit)
        return Suggestions(
            articles=[Article.from_row(row) for row in articles],
            people=[Person.from_row(row) for row in people],
            topics=[Topic.from_row(row) for row in topics],
        )


async def related_to(info: Info, article_id: int, limit: int) -> list[Article]:
    """The related-stories widget; empty when the search engine is unreachable."""
    client = info.context.search
    cache.read(cache.LIST, cache.SEARCH)
    if client is None:
        cache.read(cache.VOLATILE)
    if client is None or limit == 0:
        return []
    loaders = info.context.loaders
    source = await loaders.article_source_by_id.load(article_id)
    if source is None:
        return []
    try:
        ids = await search_articles.related_articles(client, source, limit)
    except SearchError as exc:
        logger.warning("related stories unavailable: %s", exc)
        cache.read(cache.VOLATILE)
        return []
    rows = await loaders.article_by_id.load_many(ids)
    return [Article.from_row(row) for row in rows if row is not None]
