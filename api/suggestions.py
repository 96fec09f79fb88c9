"""GraphQL for the search box's suggestions while a reader types; SQL answers the stories when
the search engine is unreachable (no people, topics or typos then)."""

from __future__ import annotations

import asyncio
import logging

import strawberry

from api import cache
from api.article import Article
from api.context import Info
from api.errors import require_between
from api.loaders import read
from api.person import Person
from api.search import check_query
from api.topic import Topic
from models import article as article_model
from models import listing
from models.base import AnyRow
from search import articles as search_articles
from search import suggestions as search_suggestions
from search.errors import SearchError

logger = logging.getLogger("newsroom.api")

MAX_SUGGESTIONS = 20


SuggestionMatch = strawberry.enum(
    search_suggestions.MatchedIn,
    name="SuggestionMatch",
    description="Where a suggested story matched what the reader typed.",
)


@strawberry.type(description="A suggested story and why it is suggested.")
class SuggestedArticle:
    article: Article
    matched_in: search_suggestions.MatchedIn = strawberry.field(
        description="Where the typed text matched."
    )
    highlight: str = strawberry.field(
        description="The headline, name or standfirst that matched, as HTML: escaped, with "
        "<mark> around the matching words (a standfirst cut around the first of them)."
    )


@strawberry.type(description="What to offer under the search box while the reader types.")
class Suggestions:
    articles: list[Article] = strawberry.field(
        description="Stories with a word of their headline, standfirst, people or topics that "
        "starts with the last typed word, best match first."
    )
    people: list[Person]
    topics: list[Topic]
    article_matches: list[SuggestedArticle] = strawberry.field(
        description="The same stories in the same order, each with where it matched."
    )


@strawberry.type
class SuggestionQuery:
    @strawberry.field(description="Suggestions for the search box, matching from the first letter.")
    async def suggest(self, info: Info, prefix: str, limit: int = 8) -> Suggestions:
        text = check_query(prefix)
        require_between("limit", limit, 1, MAX_SUGGESTIONS)
        if not text:
            return Suggestions(articles=[], people=[], topics=[], article_matches=[])
        cache.read(cache.LIST, cache.SEARCH)
        engine = info.context.engine
        last_word = (search_articles.tokenize(text) or [text])[-1]
        # Three independent reads at once: people and topics from SQL, stories from the search
        # engine. (gather, not a TaskGroup: a lost database must stay the error it is, not
        # become an ExceptionGroup, so that it is answered as SERVICE_UNAVAILABLE.)
        people, topics, suggested = await asyncio.gather(
            read(engine, listing.people_with_prefix, last_word, limit),
            read(engine, listing.topics_with_prefix, last_word, limit),
            _suggested_articles(info, text, limit),
        )
        if suggested is None:
            suggested = await _suggested_from_sql(info, text, last_word, limit)
        matches = [
            SuggestedArticle(
                article=Article.from_row(row),
                matched_in=suggestion.matched_in,
                highlight=suggestion.highlight(),
            )
            for suggestion, row in suggested
        ]
        return Suggestions(
            articles=[match.article for match in matches],
            people=[Person.from_row(row) for row in people],
            topics=[Topic.from_row(row) for row in topics],
            article_matches=matches,
        )


Suggested = list[tuple[search_suggestions.Suggestion, AnyRow]]


async def _suggested_articles(info: Info, text: str, limit: int) -> Suggested | None:
    """The search engine's suggested stories that SQL shows readers, or None without it."""
    if info.context.search is None:
        return None
    try:
        suggestions = await search_suggestions.suggest_articles(info.context.search, text, limit)
    except SearchError as exc:
        logger.warning("suggestions from SQL, search engine unavailable: %s", exc)
        cache.read(cache.VOLATILE)
        return None
    if not suggestions:
        return []
    ids = [s.article_id for s in suggestions]
    found = await read(info.context.engine, article_model.published_articles_by_ids, ids)
    shown: Suggested = []
    for suggestion in suggestions:
        row = found.get(suggestion.article_id)
        if row is None:
            continue  # not published now (the index is behind SQL)
        # The headline or standfirst as SQL has it now: a correction shows at once.
        now = _CURRENT.get(suggestion.matched_in)
        current = suggestion.on(getattr(row, now)) if now else suggestion
        if current is not None:
            shown.append((current, row))
    return shown


_CURRENT = {
    search_suggestions.MatchedIn.TITLE: "title",
    search_suggestions.MatchedIn.STANDFIRST: "dek",
}


async def _suggested_from_sql(info: Info, text: str, last_word: str, limit: int) -> Suggested:
    """Without the search engine: stories whose headline or standfirst has a word starting with
    the last typed word (the newest 200 such), ranked by the same rules; no people, topics or
    typos."""
    if not search_suggestions.WORD.search(text):
        return []
    rows = await read(
        info.context.engine,
        listing.published_with_word_prefix,
        last_word,
        search_suggestions.CANDIDATES,
    )
    candidates = [
        {"id": row.id, "title": row.title, "dek": row.dek, "published_at": _timestamp(row)}
        for row in rows
    ]
    by_id = {row.id: row for row in rows}
    ranked = search_suggestions.rank(text, candidates, limit)
    return [(s, by_id[s.article_id]) for s in ranked]


def _timestamp(row: AnyRow) -> float:
    return row.published_at.timestamp() if row.published_at else 0.0
