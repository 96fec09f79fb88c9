"""Which stories are related: TF-IDF over the whole published corpus widened by its nearest
stories' words, shared people and topics, a little for the same section and for closeness in time,
diversity, no near-twins, and at least MIN_LIST stories wherever the corpus has them. Pure
computation over stories held in memory; no SQL here (models/related.py feeds it and stores
what it ranks).

A story's words are hashed once, when it is put in the corpus (scikit-learn's HashingVectorizer:
no vocabulary to fit, so a word no story had before counts the moment a second story uses it).
The inverse document frequencies are taken afresh from every story held whenever the corpus
changed, so the weights are always those of the whole corpus, without a refit.
Those words become numbers in models/vectors.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from models.related_pick import TWIN_ALONE, TWIN_ALONE_CORPUS, Picker
from models.vectors import HASHER, shingles, sketch, stop_words, tfidf_matrix, tokens

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
# The same section (the newsroom's own filing) only orders stories that are related anyway, as
# time does: a little more than a day apart, less than one shared person. 0 ranks by content
# alone (bench/related_bench.py measures both).
SECTION_WEIGHT = 0.04
# Pseudo-relevance feedback (Rocchio): a story's vector is widened by the mean of its FEEDBACK
# closest stories' vectors, weighted by their cosines, so that a story about a film finds the
# other film stories that share the subject's words but not the story's own (a short story
# shares few words with anything). Precision@5 on the BBC set: 0.911 without, 0.930 with.
FEEDBACK = 10
FEEDBACK_WEIGHT = 1.0
# Below this, shared words are chance (a cosine of 0.03 is a couple of common words).
MIN_RELEVANCE = 0.05
# A list holds at least this many stories where the corpus has them: when similarity finds fewer,
# the rest is filled with the best of the others (same language, same section, closest score,
# closest in time), never the story itself or a near-twin. Five are shown; three spare.
MIN_LIST = 8
# Near-twins: the same story filed twice, or a lightly edited copy. Two stories are near-twins
# when their headlines are the same words in the same order (case and punctuation aside), or
# the cosine of their TF-IDF vectors is TWIN_ALONE (0.9) or more, or 4-word shingles of the
# headline and first 400 words overlap by NEAR_TWIN (Jaccard 0.5) and their cosine is
# TWIN_COSINE (0.5) or more (only pairs that close are compared): see models/related_pick.py.
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
    section: str = ""  # the section's slug

    def fingerprint(self) -> str:
        """A hash of everything ranking reads: a different one means the story changed."""
        when = self.published_at.isoformat() if self.published_at else None
        payload = [
            self.language,
            when,
            self.title,
            self.dek,
            self.body,
            self.people,
            self.topics,
            self.section,
        ]
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
    headline: int  # the hash of the headline's words, 0 for a headline without any


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
    sections: np.ndarray
    headlines: np.ndarray


class Corpus:
    """Every published story, ready to rank. Not thread-safe: one job uses one corpus."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._snapshot: _Snapshot | None = None
        self._tag_columns: dict[str, int] = {}
        self._codes: dict[str, int] = {}

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
                    _headline(story.title),
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
        languages = self._coded(f"language:{e.story.language}" for e in entries)
        sections = self._coded(f"section:{e.story.section}" for e in entries)
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
            sections=sections,
            headlines=np.array([e.headline for e in entries], dtype=np.int64),
        )
        return self._snapshot

    def _coded(self, names: Iterable[str]) -> np.ndarray:
        return np.array(
            [self._codes.setdefault(name, len(self._codes)) for name in names], dtype=np.int32
        )

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
        if not block:
            return
        rows = np.array([snap.rows[i] for i in block])
        cosine, scores, fallback = self._scores(snap, rows)
        picker = Picker(snap.ids, snap.tfidf, snap.sketch, snap.headlines, self._shingles(snap))
        for k, story_id in enumerate(block):
            top = self._top(scores[k])
            chosen = picker.choose(int(rows[k]), cosine[k], scores[k], top[:CANDIDATES], size)
            if len(chosen) < min(MIN_LIST, size):
                order = self._fill_order(snap, int(rows[k]), fallback[k], chosen)
                chosen = picker.fill(int(rows[k]), cosine[k], order, chosen, min(MIN_LIST, size))
            ranked[story_id] = Ranked(
                related=[
                    (int(snap.ids[c]), float(scores[k, c] if c in top else fallback[k, c]))
                    for c in chosen
                ],
                reach=list(
                    zip(
                        snap.ids[top[:REACH]].tolist(),
                        scores[k, top[:REACH]].tolist(),
                        strict=True,
                    )
                ),
            )

    def _shingles(self, snap: _Snapshot) -> Callable[[int], np.ndarray]:
        return lambda row: self._entries[int(snap.ids[row])].shingles

    def _scores(
        self, snap: _Snapshot, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cosine, the score and the fallback score of each story in `rows` against every
        story held. The score is -inf where similarity does not relate two stories; the
        fallback, which orders the fill, only for the story itself and its near-twins by
        headline or cosine."""
        own = snap.tfidf[rows]
        cosine = (own @ snap.tfidf_t).toarray()
        widened = normalize(own + FEEDBACK_WEIGHT * _feedback(snap.tfidf, rows, cosine))
        text = (widened @ snap.tfidf_t).toarray()
        people = np.minimum((snap.people[rows] @ snap.people.T).toarray(), TAGS_COUNTED)
        topics = np.minimum((snap.topics[rows] @ snap.topics.T).toarray(), TAGS_COUNTED)
        relevance = text + PERSON_WEIGHT * people + TOPIC_WEIGHT * topics
        apart = np.abs(snap.days[rows][:, None] - snap.days[None, :])
        fallback = relevance + RECENCY_WEIGHT * np.exp(-apart / RECENCY_DAYS)
        fallback += SECTION_WEIGHT * (snap.sections[rows][:, None] == snap.sections[None, :])
        headline = snap.headlines[rows][:, None]
        alone = (cosine >= TWIN_ALONE) & (len(snap.ids) >= TWIN_ALONE_CORPUS)
        twins = alone | ((headline == snap.headlines[None, :]) & (headline != 0))
        twins[np.arange(len(rows)), rows] = True  # the story itself
        fallback[twins] = -np.inf
        related = (relevance >= MIN_RELEVANCE) & (
            snap.languages[rows][:, None] == snap.languages[None, :]
        )
        return cosine, np.where(related, fallback, -np.inf), fallback

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

    @staticmethod
    def _fill_order(
        snap: _Snapshot, row: int, fallback: np.ndarray, chosen: list[int]
    ) -> np.ndarray:
        """The stories not chosen that may fill a short list, best first: the same language,
        then the same section, then the fallback score (shared words, people and topics, then
        closeness in time)."""
        others = np.flatnonzero(np.isfinite(fallback))
        others = others[~np.isin(others, chosen)]
        order = np.lexsort(
            (
                -fallback[others],
                snap.sections[others] != snap.sections[row],
                snap.languages[others] != snap.languages[row],
            )
        )
        filling: np.ndarray = others[order]
        return filling


def _feedback(tfidf: sp.csr_matrix, rows: np.ndarray, cosine: np.ndarray) -> sp.csr_matrix:
    """For each story of `rows`, the mean of the vectors of its FEEDBACK closest stories,
    weighted by their cosines; the story itself and its near-twins by cosine left out (they
    would only say its own words again)."""
    near = np.where(cosine >= TWIN_ALONE, 0.0, cosine)
    near[np.arange(len(rows)), rows] = 0.0
    count = min(FEEDBACK, near.shape[1] - 1)
    if count <= 0:
        empty: sp.csr_matrix = tfidf[rows] * 0
        return empty
    top = np.argpartition(-near, count - 1, axis=1)[:, :count]
    weights = np.take_along_axis(near, top, axis=1)
    mix = sp.csr_matrix(
        (weights.ravel(), (np.repeat(np.arange(len(rows)), count), top.ravel())),
        shape=(len(rows), tfidf.shape[0]),
    )
    # scikit-learn is untyped; normalize answers a matrix of the kind it is given.
    mean: sp.csr_matrix = normalize(mix, norm="l1") @ tfidf
    return mean


def _headline(title: str) -> int:
    """The headline's words in order, case and punctuation aside, as a number (0: no words)."""
    words = " ".join(tokens(title))
    if not words:
        return 0
    return int.from_bytes(hashlib.blake2b(words.encode(), digest_size=7).digest(), "big") + 1
