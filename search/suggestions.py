"""Stories for the search box: every one visibly matches what the reader has typed.

Meilisearch finds the candidates (its prefix search over the headline, standfirst, people and
topics); this module keeps only those with a word that starts with the typed text, ranks them and
says which words matched, so the reader site can mark them. Meilisearch alone suggested stories
that matched by a typo of a short prefix ("Taur" offered "Turkey turns on the economic charm") or
by a word of a field the reader never sees.

Ranking, best first:
1. exact prefix matches; matches by one typo only when nothing matches exactly, and only for a
   last word of `TYPO_MIN_LETTERS` or more (a typo in four letters is a different word);
2. how well: how distinctive the matched word is among the candidates (the one story with
   "Bundeswehr" is the story a reader typing "Bundes" is after, far more than any of the eighty
   with "Bundesbank": typing on narrows those), then a whole typed word ("Taurus" for "taurus")
   before a word it only begins;
3. where: the headline, then people, topics, the standfirst;
4. recency.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from search.client import SearchClient

# How many of Meilisearch's best candidates are ranked here: enough that a rare word's story is
# among them behind every headline that shares its first letters (one keystroke more narrows it).
CANDIDATES = 200
TYPO_MIN_LETTERS = 5
CONTEXT_WORDS = 12  # of a standfirst, around the word that matched
# A word, apostrophes and all ("O'Driscoll", "Kremlin's"), and its parts as Meilisearch cuts it
# ("Driscoll"): a story's words are both, so "o'dris", "dris" and "kremlin's" each find theirs.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
PART = re.compile(r"[^\W_]+")


class MatchedIn(StrEnum):
    """Where a suggested story matched, in the order they rank."""

    TITLE = "title"
    PERSON = "person"
    TOPIC = "topic"
    STANDFIRST = "standfirst"


_RANK = {where: rank for rank, where in enumerate(MatchedIn)}


@dataclass(frozen=True)
class Suggestion:
    """A suggested story, where it matched, and what: the last typed word (folded), as a prefix
    or, when not `exact`, with one typo."""

    article_id: int
    matched_in: MatchedIn
    text: str  # the headline, person's or topic's name, or standfirst that matched
    typed: str
    exact: bool = True

    def highlight(self) -> str:
        """`text` escaped for HTML with the matching words in <mark> elements; a standfirst
        cut to the words around the first match."""
        text = unicodedata.normalize("NFC", self.text)  # an accent apart is marked too
        tokens = list(WORD.finditer(text))
        marked = [i for i, t in enumerate(tokens) if self._marks(t.group())]
        start, end = 0, len(text)
        if self.matched_in is MatchedIn.STANDFIRST and marked and len(tokens) > CONTEXT_WORDS:
            first = max(0, min(marked[0] - CONTEXT_WORDS // 3, len(tokens) - CONTEXT_WORDS))
            last = min(len(tokens), first + CONTEXT_WORDS) - 1
            start = tokens[first].start() if first else 0
            end = tokens[last].end() if last < len(tokens) - 1 else len(text)
        parts, at = ["…" if start else ""], start
        for i in marked:
            token = tokens[i]
            if token.start() < start or token.end() > end:
                continue
            parts += [html.escape(text[at : token.start()]), "<mark>"]
            parts += [html.escape(token.group()), "</mark>"]
            at = token.end()
        parts += [html.escape(text[at:end]), "…" if end < len(text) else ""]
        return "".join(parts)

    def on(self, text: str | None) -> Suggestion | None:
        """This suggestion over `text` (the headline or standfirst as SQL has it now, which the
        index may not have yet), or None when that no longer matches."""
        if not text or not any(_matches(self.typed, w, self.exact) for w in _words(fold(text))):
            return None
        return replace(self, text=text)

    def _marks(self, written: str) -> bool:
        return any(_matches(self.typed, w, self.exact) for w in _words(fold(written)))


def fold(text: str) -> str:
    """Text as matching compares it: lower case, accents dropped ("Zelenskyy", "Óscar"), one
    apostrophe."""
    if text.isascii():  # nearly always, and twenty times faster
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(folded: str) -> set[str]:
    return {*WORD.findall(folded), *PART.findall(folded)}


def _matches(typed: str, word: str, exact: bool) -> bool:
    return word.startswith(typed) if exact else _prefix_typo(typed, word)


def _one_typo(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one edit (insert, delete, replace or swap)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


def _prefix_typo(prefix: str, word: str) -> bool:
    """True when the start of `word` is `prefix` with one typo ("pistoi" for "pistorius")."""
    return any(_one_typo(prefix, word[:n]) for n in (len(prefix) - 1, len(prefix), len(prefix) + 1))


@dataclass(frozen=True)
class _Match:
    exact: bool  # the last typed word matched without a typo
    whole: bool  # the last typed word is a whole word of the story
    where: MatchedIn
    text: str
    folded: frozenset[str]  # the story's words that matched the last typed word


class _Typed:
    """What the reader typed: complete words, then the last one, still being typed."""

    def __init__(self, text: str) -> None:
        words = WORD.findall(fold(text))
        self.complete, self.last = words[:-1], words[-1] if words else ""

    def match(self, hit: dict[str, Any], *, typos: bool) -> _Match | None:
        """The best place `hit` matches the typed words, or None when it does not visibly."""
        texts = [(where, text, fold(text)) for where, text in _texts(hit)]
        if self.complete:
            every_word = {w for _, _, folded in texts for w in _words(folded)}
            for word in self.complete:
                if word not in every_word and not (
                    typos
                    and len(word) >= TYPO_MIN_LETTERS
                    and any(_one_typo(word, w) for w in every_word)
                ):
                    return None
        typo = typos and len(self.last) >= TYPO_MIN_LETTERS
        best: _Match | None = None
        for where, text, folded in texts:
            if not typo and self.last not in folded:  # most texts: no need to cut them up
                continue
            words = _words(folded)
            found = frozenset(w for w in words if w.startswith(self.last))
            exact = bool(found)
            if not found and typo:
                found = frozenset(w for w in words if _prefix_typo(self.last, w))
            if not found:
                continue
            candidate = _Match(exact, self.last in found, where, text, found)
            if best is None or _place(candidate) < _place(best):
                best = candidate
        return best


def _texts(hit: dict[str, Any]) -> list[tuple[MatchedIn, str]]:
    texts = [(MatchedIn.TITLE, hit.get("title") or "")]
    texts += [(MatchedIn.PERSON, name) for name in hit.get("people") or ()]
    texts += [(MatchedIn.TOPIC, name) for name in hit.get("topics") or ()]
    texts.append((MatchedIn.STANDFIRST, hit.get("dek") or ""))
    return [(where, text) for where, text in texts if text]


def _place(match: _Match) -> tuple[bool, bool, int]:
    return (not match.exact, not match.whole, _RANK[match.where])


def rank(text: str, candidates: list[dict[str, Any]], limit: int) -> list[Suggestion]:
    """The best `limit` of `candidates` (documents with `id`, `title`, and optionally `dek`,
    `people`, `topics`, `published_at` as a timestamp) that visibly match `text`."""
    typed = _Typed(text)
    if not typed.last:
        return []
    found = [(hit, m) for hit in candidates if (m := typed.match(hit, typos=False)) is not None]
    if not found:  # nothing as typed: perhaps a typo
        found = [(hit, m) for hit in candidates if (m := typed.match(hit, typos=True)) is not None]
    # How many candidates each matched word is found in: the fewer, the surer the reader means
    # this story.
    stories_with = Counter(word for _, m in found for word in m.folded)

    def order(item: tuple[dict[str, Any], _Match]) -> tuple[Any, ...]:
        hit, m = item
        rarest = min(stories_with[word] for word in m.folded)
        exact, whole, where = _place(m)
        return (exact, rarest, whole, where, -(hit.get("published_at") or 0))

    found.sort(key=order)
    return [
        Suggestion(int(hit["id"]), m.where, m.text, typed.last, m.exact) for hit, m in found[:limit]
    ]


async def suggest_articles(client: SearchClient, text: str, limit: int) -> list[Suggestion]:
    """Up to `limit` published stories (the index holds no others) that visibly match `text`,
    best first."""
    if not WORD.search(text):
        return []
    answer = await client.search(
        client.articles,
        text,
        limit=CANDIDATES,
        attributesToSearchOn=["title", "dek", "people", "topics"],
        attributesToRetrieve=["id", "title", "dek", "people", "topics", "published_at"],
        matchingStrategy="all",
    )
    return rank(text, answer["hits"], limit)
