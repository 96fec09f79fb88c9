"""Which stories are related: TF-IDF over the whole published corpus, shared people and topics,
closeness in time, diversity and no near-twins. Pure computation over stories held in memory; no
SQL here (models/related.py feeds it and stores what it ranks).

A story's words are hashed once, when it is put in the corpus (scikit-learn's HashingVectorizer:
no vocabulary to fit, so a word no story had before counts the moment a second story uses it).
The inverse document frequencies are taken afresh from every story held whenever the corpus
changed, so the weights are always those of the whole corpus, without a refit.
Those words become numbers in models/vectors.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from models.vectors import HASHER, jaccard, shingles, sketch, stop_words, tfidf_matrix, tokens

# How many of the best-scored stories the diversity pass chooses from.
CANDIDATES = 60
# How many stories whose lists a changed story is checked against (see `Ranked.reach`).
REACH = 40
# Weights on top of the cosine of the TF-IDF vectors (0 to 1; related stories score 0.15 to 0.5).
# A shared person or topic is the newsroom's own statement that two stories belong together.
PERSON_WEIGHT = 0.1
TOPIC_WEIGHT = 0.08
TAGS_COUNTED = 3
# Closeness in time only orders stories that are related anyway: it never makes one related.
RECENCY_WEIGHT = 0.03
RECENCY_DAYS = 180.0
# Below this, shared words are chance (a cosine of 0.03 is a couple of common words).
MIN_RELEVANCE = 0.05
# Diversity: a candidate's score is lowered by this much of its cosine with the closest story
# already chosen (maximal marginal relevance), so a list is not five tellings of one event.
DIVERSITY = 0.1
# Near-twins: the same story filed twice, or a lightly edited copy. Measured as before (4-word
# shingles of the headline and first 400 words, Jaccard 0.5 or more); only pairs whose cosine is
# this high can be twins, so only those are compared.
NEAR_TWIN = 0.5
TWIN_COSINE = 0.5
# The same between candidates, on sketched vectors (see `vectors.sketch`), with room for their
# error.
SKETCH_TWIN_COSINE = 0.35
# Words are read up to here: a 200,000-character body costs no more than a long story.
MAX_TEXT = 30_000
# Stories ranked at once: their scores against the corpus are a few dense BLOCK x corpus arrays.
BLOCK = 128


@dataclass(frozen=True, slots=True)
class Story:
    """What ranking reads about one published story."""

    id: int
    language: str
    published_at: datetime | None
    title: str
    dek: str | None
    body: str
    people: tuple[tuple[str, str], ...] = ()  # (slug, name), in the story's order
    topics: tuple[tuple[str, str], ...] = ()  # (slug, name)

    def fingerprint(self) -> str:
        """A hash of everything ranking reads: a different one means the story changed."""
        when = self.published_at.isoformat() if self.published_at else None
        payload = [self.language, when, self.title, self.dek, self.body, self.people, self.topics]
        encoded = json.dumps(payload, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()

    def words(self) -> tuple[list[str], list[str]]:
        """The words TF-IDF counts, and the words of the headline and body in order (for
        shingles)."""
        stop = stop_words(self.language)
        title, body = tokens(self.title), tokens(self.body[:MAX_TEXT])
        names = tokens(" ".join(name for _, name in (*self.people, *self.topics)))
        # Headline, standfirst and names say most about what a story is about: they count
        # more often (sublinear term frequency makes that a lift, not a takeover).
        counted = title * 3 + tokens(self.dek or "") * 2 + names * 2 + body
        return [w for w in counted if w not in stop], title + body


@dataclass(frozen=True, slots=True)
class Ranked:
    """One story's list, best first, as (story id, score); and `reach`: the stories whose own
    lists this one scores best in (scores are symmetric), to check after it changed."""

    related: list[tuple[int, float]]
    reach: list[tuple[int, float]]


@dataclass(slots=True)
class _Entry:
    story: Story  # without its text: the entry's counts and shingles hold what ranking needs
    fingerprint: str
    columns: np.ndarray  # hashed words, each once
    counts: np.ndarray  # how often each occurs (16 bits: a story is read up to MAX_TEXT)
    shingles: np.ndarray


@dataclass(slots=True)
class _Snapshot:
    """The corpus as matrices, rebuilt after a change: row i is story ids[i]."""

    ids: np.ndarray
    rows: dict[int, int]
    tfidf: sp.csr_matrix
    tfidf_t: sp.csr_matrix  # transposed once, for the products
    sketch: np.ndarray  # dense, short: cosines between candidates, approximately
    people: sp.csr_matrix
    topics: sp.csr_matrix
    days: np.ndarray
    languages: np.ndarray


class Corpus:
    """Every published story, ready to rank. Not thread-safe: one job uses one corpus."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._snapshot: _Snapshot | None = None
        self._tag_columns: dict[str, int] = {}
        self._language_codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._entries

    def fingerprint(self, story_id: int) -> str | None:
        entry = self._entries.get(story_id)
        return entry.fingerprint if entry else None

    def put(self, stories: Iterable[Story]) -> None:
        """Add stories, or replace the ones held under the same ids."""
        by_language: dict[str, list[tuple[Story, str]]] = {}
        for story in stories:
            fingerprint = story.fingerprint()
            held = self._entries.get(story.id)
            if held is None or held.fingerprint != fingerprint:
                by_language.setdefault(story.language, []).append((story, fingerprint))
        for batch in by_language.values():
            words = [story.words() for story, _ in batch]
            counts = HASHER.transform([counted for counted, _ in words])
            counts.sum_duplicates()
            for row, (story, fingerprint) in enumerate(batch):
                span = slice(counts.indptr[row], counts.indptr[row + 1])
                self._entries[story.id] = _Entry(
                    replace(story, title="", dek=None, body=""),
                    fingerprint,
                    counts.indices[span].astype(np.int32),
                    counts.data[span].astype(np.uint16),
                    shingles(words[row][1]),
                )
            self._snapshot = None

    def drop(self, story_ids: Iterable[int]) -> None:
        for story_id in story_ids:
            if self._entries.pop(story_id, None) is not None:
                self._snapshot = None

    def ids(self) -> set[int]:
        return set(self._entries)

    def _tags(self, entries: Sequence[_Entry], kind: str) -> sp.csr_matrix:
        rows, columns = [], []
        for row, entry in enumerate(entries):
            tags = entry.story.people if kind == "person" else entry.story.topics
            for slug in {slug for slug, _ in tags}:
                key = f"{kind}:{slug}"
                columns.append(self._tag_columns.setdefault(key, len(self._tag_columns)))
                rows.append(row)
        shape = (len(entries), max(len(self._tag_columns), 1))
        data = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((data, (rows, columns)), shape=shape)

    def _snap(self) -> _Snapshot:
        if self._snapshot is not None:
            return self._snapshot
        ids = sorted(self._entries)
        entries = [self._entries[i] for i in ids]
        tfidf = tfidf_matrix(entries)
        days = np.array(
            [
                e.story.published_at.timestamp() / 86400 if e.story.published_at else 0.0
                for e in entries
            ]
        )
        languages = np.array(
            [
                self._language_codes.setdefault(e.story.language, len(self._language_codes))
                for e in entries
            ],
            dtype=np.int32,
        )
        self._snapshot = _Snapshot(
            ids=np.array(ids, dtype=np.int64),
            rows={story_id: row for row, story_id in enumerate(ids)},
            tfidf=tfidf,
            tfidf_t=tfidf.T.tocsr(),
            sketch=sketch(tfidf),
            people=self._tags(entries, "person"),
            topics=self._tags(entries, "topic"),
            days=days,
            languages=languages,
        )
        return self._snapshot

    def rank(self, story_ids: Sequence[int], size: int) -> dict[int, Ranked]:
        """The related list, at most `size` long, of each of these stories (those the corpus
        holds), best first."""
        snap = self._snap()
        wanted = [i for i in story_ids if i in snap.rows]
        ranked: dict[int, Ranked] = {}
        # OpenBLAS's threads cost ten times the arithmetic on matrices this small, more so on
        # cores that are busy with requests.
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(wanted), BLOCK):
                self._rank_block(snap, wanted[start : start + BLOCK], size, ranked)
        return ranked

    def _rank_block(
        self, snap: _Snapshot, block: list[int], size: int, ranked: dict[int, Ranked]
    ) -> None:
        if block:
            rows = np.array([snap.rows[i] for i in block])
            cosine, scores = self._scores(snap, rows)
            for k, story_id in enumerate(block):
                top = self._top(scores[k])
                chosen = self._choose(snap, rows[k], cosine[k], scores[k], top[:CANDIDATES], size)
                ranked[story_id] = Ranked(
                    related=chosen,
                    reach=list(
                        zip(
                            snap.ids[top[:REACH]].tolist(),
                            scores[k, top[:REACH]].tolist(),
                            strict=True,
                        )
                    ),
                )

    def _scores(self, snap: _Snapshot, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cosine and the score of each story in `rows` against every story held; -inf
        where a story may not be related at all."""
        cosine = (snap.tfidf[rows] @ snap.tfidf_t).toarray()
        people = np.minimum((snap.people[rows] @ snap.people.T).toarray(), TAGS_COUNTED)
        topics = np.minimum((snap.topics[rows] @ snap.topics.T).toarray(), TAGS_COUNTED)
        relevance = cosine + PERSON_WEIGHT * people + TOPIC_WEIGHT * topics
        apart = np.abs(snap.days[rows][:, None] - snap.days[None, :])
        scores = relevance + RECENCY_WEIGHT * np.exp(-apart / RECENCY_DAYS)
        allowed = (relevance >= MIN_RELEVANCE) & (
            snap.languages[rows][:, None] == snap.languages[None, :]
        )
        allowed[np.arange(len(rows)), rows] = False  # never the story itself
        scores[~allowed] = -np.inf
        return cosine, scores

    @staticmethod
    def _top(scores: np.ndarray) -> np.ndarray:
        """Rows of the best-scored stories that may be related, best first."""
        count = min(max(CANDIDATES, REACH), len(scores))
        if not count:
            return np.array([], dtype=np.int64)
        # Declared, because numpy types indexing by a mask of unknown dtype as Any.
        top: np.ndarray = np.argpartition(-scores, count - 1)[:count]
        top = top[np.isfinite(scores[top])]
        return top[np.argsort(-scores[top], kind="stable")]

    def _choose(
        self,
        snap: _Snapshot,
        row: int,
        cosine: np.ndarray,
        scores: np.ndarray,
        candidates: np.ndarray,
        size: int,
    ) -> list[tuple[int, float]]:
        """Best first, each pick lowered by its likeness to those already picked; near-twins
        of the story, or of a story picked, left out."""
        if not len(candidates):
            return []
        vectors = snap.sketch[candidates]
        between = vectors @ vectors.T
        base = scores[candidates]
        ids: list[int] = snap.ids[candidates].tolist()
        own = self._entries[int(snap.ids[row])].shingles
        open_ = np.ones(len(candidates), dtype=bool)
        for c in np.flatnonzero(cosine[candidates] >= TWIN_COSINE).tolist():
            if jaccard(own, self._entries[ids[c]].shingles) >= NEAR_TWIN:
                open_[c] = False
        closest = np.zeros(len(candidates))  # cosine with the closest story picked so far
        chosen: list[int] = []
        while len(chosen) < size and open_.any():
            pick = int(np.where(open_, base - DIVERSITY * closest, -np.inf).argmax())
            open_[pick] = False
            alike = np.flatnonzero(between[pick, chosen] >= SKETCH_TWIN_COSINE).tolist()
            mine = self._entries[ids[pick]].shingles
            if any(
                jaccard(mine, self._entries[ids[chosen[k]]].shingles) >= NEAR_TWIN for k in alike
            ):
                continue  # a near-twin of a story already picked
            chosen.append(pick)
            np.maximum(closest, between[pick], out=closest)
        return [(ids[c], float(base[c])) for c in chosen]
