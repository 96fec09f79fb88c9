"""Reader searches on the article index: site search, and the related stories of
before issue 14 (benchmarks compare with them).

Query text only ever travels as `q`; filters are built here from structured values, quoted,
so nothing a reader types can become filter syntax.
"""

from __future__ import annotations

import asyncio
import html
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from stop_words import get_stop_words

from models.document import ArticleSource
from models.listing import ArticleFilter
from search.client import SearchClient
from search.documents import MARK_END, MARK_START

FACETS = {"topics": "topic_slugs", "people": "person_slugs", "sections": "section", "years": "year"}
SNIPPET_WORDS = 30
MAX_QUERY_WORDS = 10  # Meilisearch reads at most ten words of a query.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


class Sort(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    OLDEST = "oldest"


# Search narrows by the conditions story lists do: one type for both, the models'.
Where = ArticleFilter


@dataclass(slots=True)
class Hit:
    article_id: int
    title: str  # HTML: escaped text with <mark> around matches
    snippet: str


@dataclass(slots=True)
class SearchPage:
    hits: list[Hit]
    total_hits: int
    total_pages: int
    page: int
    hits_per_page: int
    processing_time_ms: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_expressions(where: Where, *, exclude_id: int | None = None) -> list[str]:
    """Meilisearch filter clauses (ANDed) for `where`."""
    clauses = [f"topic_slugs = {_quoted(slug)}" for slug in where.topics]
    clauses += [f"person_slugs = {_quoted(slug)}" for slug in where.people]
    if where.section is not None:
        clauses.append(f"section = {_quoted(where.section)}")
    if where.published_after is not None:
        clauses.append(f"published_at >= {int(where.published_after.timestamp())}")
    if where.published_before is not None:
        clauses.append(f"published_at < {int(where.published_before.timestamp())}")
    if where.language is not None:
        clauses.append(f"language = {_quoted(where.language)}")
    if exclude_id is not None:
        clauses.append(f"id != {int(exclude_id)}")
    return clauses


def render_highlight(formatted: str) -> str:
    """Escape text for HTML, then turn the engine's match markers into <mark> elements."""
    escaped = html.escape(formatted)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def _snippet(formatted: dict[str, Any]) -> str:
    body, dek = formatted.get("body") or "", formatted.get("dek") or ""
    for candidate in (body, dek):
        if MARK_START in candidate:
            return render_highlight(candidate)
    return render_highlight(dek or body)


def search_request(
    text: str, *, page: int, hits_per_page: int, where: Where, sort: Sort
) -> dict[str, Any]:
    """The body of the Meilisearch search behind one page of site search."""
    query = text.strip()
    if sort is Sort.NEWEST or (sort is Sort.RELEVANCE and not query):
        order = ["published_at:desc"]
    elif sort is Sort.OLDEST:
        order = ["published_at:asc"]
    else:
        order = None
    return dict(
        q=query,
        page=page,
        hitsPerPage=hits_per_page,
        filter=filter_expressions(where),
        sort=order,
        facets=list(FACETS.values()),
        attributesToRetrieve=["id"],
        attributesToHighlight=["title", "dek", "body"],
        attributesToCrop=["dek", "body"],
        cropLength=SNIPPET_WORDS,
        cropMarker="…",
        highlightPreTag=MARK_START,
        highlightPostTag=MARK_END,
    )


def _split(request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`search_request` (less its `q`) as two: the ranked, highlighted hits without facets, and
    the facet counts without hits (the same query and filter, so the same candidates)."""
    ranking = {k: v for k, v in request.items() if k != "facets"}
    counting = {"filter": request["filter"], "page": 1, "hitsPerPage": 0}
    return ranking, {**counting, "facets": request["facets"]}


class PageSearch:
    """One page of site search: the hits and their facet counts, as one search or, when this
    process has no other page search waiting on the engine, as two sent at once.

    Meilisearch answers a request on one thread, ranking and then counting facets. Apart, on
    two threads, a page takes about the longer of the two rather than their sum, and what the
    caller does with the hits (the SQL check of them) overlaps the counting: measured on the
    bench's corpus, one reader at a time, 6.5 ms against 7.1 ms through the API. But the two
    together cost the engine and this process more than one: with eight readers at once,
    always apart served 15 % fewer searches (241 against 285 a second). So a search goes
    apart only while no other is in flight here, which is when the engine has a thread free:
    with eight readers, 268 a second against 274 and 290 in two rounds of one search each.

    Used as `async with`: the searches start on entering, and leaving cancels any unfinished.
    """

    _in_flight = 0  # page searches of this process between entering and leaving

    def __init__(
        self,
        client: SearchClient,
        text: str,
        *,
        page: int,
        hits_per_page: int,
        where: Where,
        sort: Sort,
    ) -> None:
        self._client = client
        self._request = search_request(
            text, page=page, hits_per_page=hits_per_page, where=where, sort=sort
        )
        self._tasks: list[asyncio.Future[dict[str, Any]]] = []
        self._hits: list[Hit] | None = None

    async def __aenter__(self) -> PageSearch:
        client, index = self._client, self._client.articles
        query = self._request.pop("q")
        bodies = [self._request] if PageSearch._in_flight else _split(self._request)
        self._tasks = [
            asyncio.ensure_future(client.search(index, query, **body)) for body in bodies
        ]
        PageSearch._in_flight += 1
        return self

    async def __aexit__(self, *_: object) -> None:
        PageSearch._in_flight -= 1
        for task in self._tasks:
            if not task.done():
                task.cancel()
        # Retrieved, so that a search that failed after the other one did is not reported as
        # an exception nobody read.
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def hits(self) -> list[Hit]:
        """The page's hits, highlighted once: callers ask for them, then for the page."""
        if self._hits is None:
            answer = await self._tasks[0]
            self._hits = [
                Hit(
                    article_id=int(hit["id"]),
                    title=render_highlight(hit["_formatted"].get("title", "")),
                    snippet=_snippet(hit["_formatted"]),
                )
                for hit in answer["hits"]
            ]
        return self._hits

    async def page(self) -> SearchPage:
        """The hits with exact totals and facet counts."""
        hits = await self.hits()
        ranked, counted = self._tasks[0].result(), await self._tasks[-1]
        distribution = counted.get("facetDistribution") or {}
        return SearchPage(
            hits=hits,
            total_hits=ranked["totalHits"],
            total_pages=ranked["totalPages"],
            page=ranked["page"],
            hits_per_page=ranked["hitsPerPage"],
            # The engine's time for the page (two searches ran side by side, if apart).
            processing_time_ms=max(ranked["processingTimeMs"], counted["processingTimeMs"]),
            facets={
                name: sorted(
                    (distribution.get(attribute) or {}).items(),
                    key=lambda item: (-item[1], item[0]),
                )
                for name, attribute in FACETS.items()
            },
        )


# Related stories -------------------------------------------------------------------------------


@cache
def stop_words(language: str) -> frozenset[str]:
    try:
        return frozenset(get_stop_words(language))
    except Exception:  # stop-words raises its own error for languages it lacks
        return frozenset()


def tokenize(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def key_terms(source: ArticleSource, limit: int = MAX_QUERY_WORDS) -> list[str]:
    """The words that say what a story is about: names and headline words weigh most."""
    stop = stop_words(source.language)
    weights: defaultdict[str, float] = defaultdict(float)
    first_seen: dict[str, int] = {}
    paragraphs = [block["text"] for block in source.body if block["type"] == "paragraph"]
    weighted = [
        (" ".join(name for _, name, _, _ in source.people), 4.0),
        (source.title, 3.0),
        (source.dek or "", 2.0),
        (" ".join(paragraphs[:4]), 1.0),
    ]
    for text, weight in weighted:
        for word in tokenize(text):
            if len(word) < 3 or word in stop or word.isdigit():
                continue
            weights[word] += weight
            first_seen.setdefault(word, len(first_seen))
    ranked = sorted(weights, key=lambda word: (-weights[word], first_seen[word]))
    return ranked[:limit]


def _shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    words = tokenize(text)[:400]
    return {tuple(words[i : i + size]) for i in range(max(0, len(words) - size + 1))}


def _jaccard(a: set[Any], b: set[Any]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


NEAR_DUPLICATE = 0.5
CANDIDATES_PER_TERM = 30


async def related_articles(client: SearchClient, source: ArticleSource, limit: int) -> list[int]:
    """Stories about the same thing, best first: the method `related` used before issue 14,
    kept as the reference bench/raw_limit.py and bench/search_bench.py compare with (the API
    reads lists the related-stories job computed, models/related.py).

    Meilisearch has no "more like this", and one query of the story's words would demand that a
    document match (nearly) all of them. So each key term is searched on its own, in one
    multi-search, and a document's score sums its per-term ranking scores weighted by how rare
    the term is (an inverse document frequency from each term's hit count): TF-IDF over OR.
    The most recent stories sharing a topic or a person join the candidates. Shared people and
    topics and closeness in time then lift candidates, and near-duplicates of
    the story, or of a story already chosen, are left out.
    """
    terms = key_terms(source)
    if limit <= 0 or not terms:
        return []
    exclude = [f"id != {int(source.id)}", f"language = {_quoted(source.language)}"]
    queries = [{"indexUid": client.articles, "q": "", "limit": 0}] + [
        {
            "indexUid": client.articles,
            "q": term,
            "limit": CANDIDATES_PER_TERM,
            "filter": exclude,
            "attributesToRetrieve": ["id"],
            "showRankingScore": True,
        }
        for term in terms
    ]
    tags = [f"topic_slugs = {_quoted(slug)}" for slug, _ in source.topics]
    tags += [f"person_slugs = {_quoted(slug)}" for slug, _, _, _ in source.people]
    if tags:
        # Stories the newsroom tagged alike are candidates even when their words differ.
        queries.append(
            {
                "indexUid": client.articles,
                "q": "",
                "limit": limit * 4,
                "filter": [*exclude, " OR ".join(tags)],
                "sort": ["published_at:desc"],
                "attributesToRetrieve": ["id"],
            }
        )
    answers = await client.multi_search(queries)
    tagged = [int(hit["id"]) for hit in answers[-1]["hits"]] if tags else []
    documents = max(answers[0]["estimatedTotalHits"], 1)
    scores: Counter[int] = Counter()
    for answer in answers[1 : 1 + len(terms)]:
        idf = math.log(1 + documents / (1 + answer["estimatedTotalHits"]))
        for hit in answer["hits"]:
            scores[int(hit["id"])] += idf * hit["_rankingScore"]
    shortlist = list(dict.fromkeys([*(i for i, _ in scores.most_common(limit * 4)), *tagged]))
    if not shortlist:
        return []
    details = await client.search(
        client.articles,
        "",
        limit=len(shortlist),
        filter=[f"id IN [{', '.join(str(i) for i in shortlist)}]"],
        attributesToRetrieve=["id", "title", "body", "topic_slugs", "person_slugs", "published_at"],
    )
    people = {slug for slug, _, _, _ in source.people}
    topics = {slug for slug, _ in source.topics}
    published = source.published_at.timestamp()
    best = max(scores.values(), default=0.0) or 1.0

    def score(hit: dict[str, Any]) -> float:
        shared_people = len(people & set(hit.get("person_slugs") or ()))
        shared_topics = len(topics & set(hit.get("topic_slugs") or ()))
        age_days = abs(published - hit["published_at"]) / 86400
        return (
            scores[int(hit["id"])] / best
            # The newsroom's own tagging is a stronger signal than shared words.
            + 0.3 * min(shared_people, 3)
            + 0.25 * min(shared_topics, 3)
            + 0.1 * math.exp(-age_days / 180)
        )

    kept: list[int] = []
    seen = [_shingles(source.title + "\n" + " ".join(b["text"] for b in source.body))]
    for hit in sorted(details["hits"], key=score, reverse=True):
        shingles = _shingles(hit["title"] + "\n" + hit["body"])
        if any(_jaccard(shingles, other) >= NEAR_DUPLICATE for other in seen):
            continue
        seen.append(shingles)
        kept.append(int(hit["id"]))
        if len(kept) == limit:
            break
    return kept
