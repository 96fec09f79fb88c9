"""Evidence in a story's text that a name is not a person's there: the title of a work or a
band, a place, an organisation or its product, a fictional character."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from models.extraction_rules import HONORIFICS, ORGANISATION_KINDS, WORK_KINDS, clean, name_run

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

_CLAUSE_WORDS = frozenset({"but", "while", "that", "when", "because", "where", "after", "before"})


def works(doc: Doc) -> set[str]:
    """Names this text gives as the title of a work or a band, never a person's in this story:
    after a kind of work or band ("comedy Napoleon Dynamite", "rock band Bloc Party"), after a
    full name's possessive ("Susanna Clarke's Jonathan Strange"), before ", a novel", where
    someone "plays a drunkard in Duane Hopwood", right before "by" and a person's name
    ("Jonathan Strange and Mr Norrell by Susanna Clarke"), or a name that "were" ("Keane
    were")."""
    found: set[str] = set()
    for i, token in enumerate(doc):
        # "first single Hey Joe": the model tags "single" as an adjective.
        if token.lower_ in WORK_KINDS and token.pos_ in {"NOUN", "ADJ"} and i + 1 < len(doc):
            end = name_run(doc, i + 1, 5)
            if end > i + 1:
                found.add(clean(doc[i + 1 : end].text))
        # "TV shows such as Battlestar Galactica", "films including Ray and Sideways".
        examples = i + 1 < len(doc) and doc[i + 1].lower_ in _EXAMPLE_STARTS
        if (
            examples
            and (token.lower_ in WORK_KINDS or token.lower_[:-1] in WORK_KINDS)
            and (token.pos_ == "NOUN" or (i > 0 and doc[i - 1].pos_ == "NOUN"))  # "TV shows"
        ):
            found.update(_examples(doc, i + 1))
        # A full name's possessive: "Coldplay's Chris Martin" is a singer (the model takes bands
        # and clubs for people), "Susanna Clarke's Jonathan Strange" a novel.
        possessive = (
            token.lower_ in {"'s", "’s", "'", "’"}
            and i > 1
            and doc[i - 1].ent_type_ == "PERSON"
            and doc[i - 2].ent_type_ == "PERSON"
            and doc[i - 2].is_title
        )
        if possessive and i + 1 < len(doc) and doc[i + 1].ent_type_ == "PERSON":
            end = i + 2
            while end < len(doc) and doc[end].ent_iob_ == "I":
                end += 1
            found.add(clean(doc[i + 1 : end].text))
    # "Keane were followed by Franz Ferdinand": one person is never "were"; "Jonathan Strange
    # and Mr Norrell by Susanna Clarke": a name right before "by" and a person's is a work's.
    ents = list(doc.ents)
    for k, ent in enumerate(ents):
        if (
            ent.label_ == "PERSON"
            and k + 1 < len(ents)
            and ents[k + 1].label_ == "PERSON"
            and ents[k + 1].start == ent.end + 1
            and doc[ent.end].lower_ == "by"
        ):
            found.add(clean(ent.text))
            between = doc[ents[k - 1].end : ent.start].text.lower().split() if k else []
            if between[:1] == ["and"] and all(w in HONORIFICS for w in between[1:]):
                found.add(clean(ents[k - 1].text))
    for ent in ents:
        after = doc[ent.end] if ent.end < len(doc) else None
        before = doc[ent.start - 1].lower_ if ent.start else ""
        if (
            ent.label_ == "PERSON"
            and after is not None
            and after.lower_ in {"were", "are"}
            and (before in {"", ".", "!", "?", ";", ":", '"', "“", "”"} | _CLAUSE_WORDS)
        ):
            found.add(clean(ent.text))
    for match in _WORK_AFTER.finditer(doc.text):
        found.add(clean(match.group(1)))
    for match in _PLAYS_IN.finditer(doc.text):
        found.add(clean(match.group(1)))
    return found


_CAPS = r"((?:[A-Z][\w'’-]*\s){0,3}[A-Z][\w'’-]*)"
_WORK_AFTER = re.compile(
    _CAPS + r",\s+(?:a|an|the|his|her|their)\s+(?:[\w-]+\s+){0,2}(?:"
    r"novel|film|movie|book|play|musical|album|song|single|comedy|drama|thriller|documentary"
    r"|sitcom|series|show|programme|game)\b(?![’']s)"  # "Jeffrey Richards, the show's co-producer"
)
_PLAYS_IN = re.compile(
    r"\b(?:plays|played|playing|stars|starred|starring|appears|appeared|role|performances?)\b"
    r"[^.,;:\"“”]{0,60}?\bin\s+" + _CAPS + r"(?=[,.;]|\s[-–—]\s|\s+(?:and|while|but|,)\b)"
)
_EXAMPLE = frozenset({"like", "including", "include", "includes"})  # and "such as"
_EXAMPLE_STARTS = _EXAMPLE | {"such"}


def _examples(doc: Doc, i: int) -> list[str]:
    """The names listed after "such as", "like" or "including" at i: "Thunderbirds and
    Transformers" in "shows such as Thunderbirds and Transformers"."""
    if doc[i : i + 2].text.lower() == "such as":
        i += 2
    elif i < len(doc) and doc[i].lower_ in _EXAMPLE:
        i += 1
    else:
        return []
    found = []
    while i < len(doc):
        end = name_run(doc, i, 5)
        if end == i:
            break
        found.append(clean(doc[i:end].text))
        if end < len(doc) and doc[end].text in {"'s", "’s"}:  # "Foster's, John Smith's"
            end += 1
        if end + 1 < len(doc) and doc[end].text in {",", "and", "or"}:
            i = end + 2 if doc[end + 1].lower_ in {"and", "or"} else end + 1
            continue
        break
    return found


_PLACES = frozenset({"GPE", "LOC", "FAC"})
_PLACED = frozenset({"from", "of", "in", "near", "at"})
_CHARACTER = frozenset({"voiced", "played", "portrayed"})


def things(doc: Doc) -> set[str]:
    """Names this text shows are not people's, whatever the model labelled them: a name after a
    kind of organisation ("engineering firm Balfour Beatty"), an item of a
    list of places ("Belle Vue in Manchester, Perry Barr and Hall Green in Birmingham"), a
    place given with its county ("from Pease Pottage, West Sussex"), something that "which"
    follows ("Euronext, which combines"), and a character "voiced by" or "played by" someone
    ("Trap Door voiced by the late Willie Rushden")."""
    found: set[str] = set(_place_list(doc))
    # One pass, the cheap test on the word first: these rules run on every token of the corpus.
    for i, token in enumerate(doc[:-1]):
        lower = token.lower_
        # "activities such as yoga and Tai Chi": names listed with a singular common noun (an
        # activity, a sport, a substance) are of its kind; a plural ("fans") may be people.
        if lower in _EXAMPLE or (lower == "such" and doc[i + 1].lower_ == "as"):
            items = _items(doc, i + 2 if lower == "such" else i + 1)
            common = [
                it
                for it in items
                if all(t.is_lower and t.pos_ in _NOMINAL for t in it) and it[-1].tag_ == "NN"
            ]
            if len(items) >= 2 and common:
                found.update(clean(it.text) for it in items if it[0].pos_ == "PROPN")
        # "Engineering firm Balfour Beatty", "parts maker Robert Bosch" (a film-maker is a
        # person), "brands include Foster's, John Smith's".
        # "Bookmaker William Hill" starting a sentence is tagged as a proper noun.
        elif lower in ORGANISATION_KINDS and (
            token.pos_ == "NOUN" or (token.is_title and (i == 0 or doc[i - 1].is_punct))
        ):
            kind = doc[i - 2 if i > 1 and doc[i - 1].text == "-" else max(i - 1, 0)].lower_
            if kind in WORK_KINDS:
                continue
            end = name_run(doc, i + 1, 5)
            if end > i + 1:
                found.add(clean(doc[i + 1 : end].text))
            found.update(_examples(doc, i + 1))
        # "the Academy of Motion Pictures Arts and Sciences (Ampas)": an organisation's initials.
        elif lower == "(" and i > 0 and (doc[i - 1].ent_type_ == "ORG" or token.ent_type_):
            end = name_run(doc, i + 1, 2)
            if end == i + 2 and end < len(doc) and doc[end].text == ")":
                found.add(doc[i + 1].text)
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        after = [t.lower_ for t in doc[ent.end : ent.end + 2]]
        before = doc[ent.start - 1].lower_ if ent.start else ""
        county = (
            ent.end + 1 < len(doc)
            and doc[ent.end + 1].ent_type_ in {"GPE", "LOC"}
            and doc[ent.end + 1].ent_iob_ == "B"
        )
        if county and before in _PLACED and after[:1] == [","]:
            place = next(e for e in doc.ents if e.start == ent.end + 1)
            if place.end == len(doc) or doc[place.end].text in {",", ";", ".", ")"}:
                found.add(clean(ent.text))
        if after == [",", "which"] or (
            after[:1] and after[0] in _CHARACTER and after[1:] == ["by"]
        ):
            found.add(clean(ent.text))
    return found


_NOMINAL = frozenset({"NOUN", "ADJ", "PROPN"})


def _items(doc: Doc, start: int) -> list[Span]:
    """The items of the list at start, each at most three nouns, adjectives or proper nouns:
    "yoga", "Tai Chi" in "yoga and Tai Chi being options"."""
    items = []
    i = start
    while i < len(doc):
        end = i
        while end < len(doc) and end - i < 4 and doc[end].pos_ in _NOMINAL and doc[end].is_alpha:
            end += 1
        if end == i or end - i > 3:
            break
        items.append(doc[i:end])
        if end + 1 < len(doc) and doc[end].text == "," and doc[end + 1].lower_ in {"and", "or"}:
            end += 1
        if end + 1 < len(doc) and doc[end].lower_ in {",", "and", "or"}:
            i = end + 1
            continue
        break
    return items


def _place_list(doc: Doc) -> list[str]:
    """The names of a list of three or more items at least half of which the model takes for
    places, each maybe followed by "in" and its town: all are places."""
    found: list[str] = []
    i = 0
    while i < len(doc):
        if not doc[i].is_title:  # most tokens: no name starts here
            i += 1
            continue
        items: list[tuple[int, int]] = []
        j = i
        while j < len(doc):
            end = name_run(doc, j, 5)
            if end == j:
                break
            items.append((j, end))
            if end + 1 < len(doc) and doc[end].lower_ == "in" and doc[end + 1].ent_type_ in _PLACES:
                end = name_run(doc, end + 1, 5)
            if end + 1 < len(doc) and doc[end].text in {",", "and"}:
                j = end + 2 if doc[end].text == "," and doc[end + 1].lower_ == "and" else end + 1
                continue
            break
        places = [(a, b) for a, b in items if doc[a].ent_type_ in _PLACES]
        if len(items) >= 3 and len(places) * 2 >= len(items):
            found += [clean(doc[a:b].text) for a, b in items if doc[a].ent_type_ == "PERSON"]
        i = max(j, i + 1) if items else i + 1
    return found
