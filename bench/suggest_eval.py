"""How well the search box's story suggestions match what readers type (issue 18): `make
eval-suggest`.

On the demo content as `make run` serves it (the sample stories and the BBC set, people
extracted), indexed in a Meilisearch of its own, it draws stories with `random.Random(SEED)` and
types the first 4, 5 and 6 letters of a rare word of each story's headline or standfirst, then
prints two figures per length:

- known item: the share of those prefixes for which the story is among the suggestions (the
  contract's `limit: 8`);
- precision: the share of suggested stories with a word of their headline, standfirst, people
  or topics that starts with the typed letters (what the reader can see matches).

Precision is also measured on prefixes of common words (in more than 20 stories), where most
stories match and ranking alone decides. The words are read from SQL, not from the index, but
cut and folded as search/suggestions.py does: precision shows the filter holding on what readers
see; known item is the measure of the ranking.

A rare word: at least six letters (words split at apostrophes: "China's" is "China"), not a
stop word, in the headline, standfirst, people or topics of at most `RARE_IN` stories; of a
story's rare words the rarest, ties drawn at random.
The corpus has some stories twice (same headline and standfirst): either copy counts as found.

The prepared corpus is kept in var/eval-suggest/ and reused while the demo files and the people
extraction are unchanged;
`--fresh` rebuilds it (4 to 15 minutes, by the machine's load: people extraction).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import re
import shutil
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import migrate
from models.article import Article
from models.document import published_sources
from models.importer import import_lines
from models.people_queue import PeopleWorker
from models.session import create_engine, session_factory
from search.articles import stop_words
from search.client import SearchClient
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch
from search.suggestions import fold, suggest_articles
from search.worker import OutboxWorker

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "eval-suggest"
DEMO_FILES = (ROOT / "demo" / "sample-articles.jsonl", ROOT / "demo" / "bbc-news.jsonl")
EXTRACTION = (
    *sorted((ROOT / "models").glob("extraction*.py")),
    ROOT / "models" / "data" / "people.json",
    ROOT / "requirements-model.txt",
)
SEED = 20261203  # written down before the first draw
SAMPLE = 300
RARE_IN = 3
COMMON_IN = 20
LENGTHS = (4, 5, 6)
LIMIT = 8  # as the contract's search-suggest.graphql asks
# Words as Meilisearch and readers see them: "China's" is "China" and "s".
WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Story:
    id: int
    headline: str  # title and standfirst: what tells two copies of one story apart
    words: frozenset[str]  # folded words of the headline, standfirst, people and topics
    own: tuple[str, ...]  # words of the headline and standfirst, as written


def corpus_key() -> str:
    """What the prepared corpus depends on: the demo files and how people are extracted."""
    digest = hashlib.sha256()
    for path in (*DEMO_FILES, *EXTRACTION):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


async def prepare(engine: AsyncEngine, client: SearchClient) -> None:
    await migrate.upgrade(engine)
    for path in DEMO_FILES:
        await import_lines(session_factory(engine), path.read_text().splitlines())
    people = PeopleWorker(engine, batch_size=64)
    await people.drain()
    await ensure_articles_index(client)
    await OutboxWorker(engine, client, batch_size=1000).drain()


async def stories(engine: AsyncEngine) -> list[Story]:
    async with engine.connect() as conn:
        ids = list((await conn.execute(sa.select(Article.id).order_by(Article.id))).scalars())
        sources = await published_sources(conn, ids)
    found = []
    for pk in ids:
        source = sources.get(pk)
        if source is None:
            continue
        own = tuple(WORD.findall(source.title) + WORD.findall(source.dek or ""))
        names = [name for _, name, _, _ in source.people] + [name for _, name in source.topics]
        words = frozenset(fold(w) for w in own + tuple(w for n in names for w in WORD.findall(n)))
        found.append(Story(pk, f"{source.title}\n{source.dek or ''}", words, own))
    return found


def draw(corpus: list[Story]) -> tuple[list[tuple[Story, str]], list[str]]:
    """(story, its rare word) for the known-item queries, and common words for precision."""
    rng = random.Random(SEED)
    stop = stop_words("en")
    df = Counter(word for story in corpus for word in story.words)
    eligible = []
    for story in corpus:
        rare = defaultdict(list)
        for written in story.own:
            word = fold(written)
            if len(word) >= 6 and word not in stop and not word.isdigit() and df[word] <= RARE_IN:
                rare[df[word]].append(written)
        if rare:
            eligible.append((story, rare[min(rare)]))
    chosen = rng.sample(eligible, min(SAMPLE, len(eligible)))
    known = [(story, rng.choice(sorted(set(words)))) for story, words in chosen]
    common = sorted(w for w, n in df.items() if n > COMMON_IN and len(w) >= 4 and w not in stop)
    return known, rng.sample(common, min(SAMPLE, len(common)))


Suggest = Callable[[SearchClient, str, int], Awaitable[list[int]]]


async def ours(client: SearchClient, prefix: str, limit: int) -> list[int]:
    return [s.article_id for s in await suggest_articles(client, prefix, limit)]


async def before(client: SearchClient, prefix: str, limit: int) -> list[int]:
    """The query `suggest` sent before issue 18: Meilisearch's own prefix and typo matching."""
    answer = await client.search(
        client.articles,
        prefix,
        limit=limit,
        attributesToSearchOn=["title", "people", "people_aliases", "topics"],
        attributesToRetrieve=["id"],
    )
    return [int(hit["id"]) for hit in answer["hits"]]


async def measure(
    client: SearchClient,
    suggest: Suggest,
    by_id: dict[int, Story],
    known: list[tuple[Story, str]],
    common: list[str],
) -> None:
    took: list[float] = []
    for n in LENGTHS:
        found, shown, matching = [], 0, 0
        for story, word in known:
            prefix = word[:n]
            started = time.perf_counter()
            answer = await suggest(client, prefix, LIMIT)
            took.append(time.perf_counter() - started)
            suggested = [by_id[pk] for pk in answer]
            found.append(any(s.headline == story.headline for s in suggested))
            shown += len(suggested)
            matching += sum(any(w.startswith(fold(prefix)) for w in s.words) for s in suggested)
        common_shown, common_matching = 0, 0
        for word in common:
            prefix = word[: min(n, len(word))]
            suggested = [by_id[pk] for pk in await suggest(client, prefix, LIMIT)]
            common_shown += len(suggested)
            common_matching += sum(any(w.startswith(prefix) for w in s.words) for s in suggested)
        print(
            f"{n:>7} {statistics.mean(found):>10.3f} {matching / max(shown, 1):>9.3f}"
            f" {common_matching / max(common_shown, 1):>21.3f}"
        )
    print(
        f"time per suggestion, one at a time: median {statistics.median(took) * 1000:.1f} ms,"
        f" p95 {statistics.quantiles(took, n=20)[-1] * 1000:.1f} ms over {len(took)}"
    )


async def evaluate(client: SearchClient, corpus: list[Story]) -> None:
    by_id = {story.id: story for story in corpus}
    known, common = draw(corpus)
    print(f"{len(corpus)} published stories; {len(known)} drawn with random.Random({SEED})")
    for name, suggest in (("suggest", ours), ("before issue 18", before)):
        print(f"\n{name}")
        print(f"{'letters':>7} {'known item':>10} {'precision':>9} {'common-word precision':>21}")
        await measure(client, suggest, by_id, known, common)


async def main(fresh: bool) -> None:
    key = corpus_key()
    marker = WORK / "ready"
    if fresh or not marker.exists() or marker.read_text() != key:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{WORK / 'eval.db'}")
    meili = LocalMeilisearch(WORK / "meilisearch")
    await meili.start()
    client = SearchClient(meili.url, meili.master_key)
    try:
        if not marker.exists():
            print("preparing the demo corpus (people extraction takes a few minutes)...")
            await prepare(engine, client)
            marker.write_text(key)
        await evaluate(client, await stories(engine))
    finally:
        await client.aclose()
        await meili.stop()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="rebuild the prepared corpus")
    asyncio.run(main(parser.parse_args().fresh))
    sys.exit(0)
