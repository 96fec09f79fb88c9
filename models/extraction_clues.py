"""Evidence in a story's text that a name is a person's, whatever the model labelled it: a
sports line-up, a description after the name, "directed by", a place's or club's possessive, a
list most of whose items are people."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from models.extraction_rules import (
    HONORIFICS,
    PARTICLES,
    ROLE_HEADS,
    TITLES,
    clean,
    name_run,
    plausible,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc

_WORD = r"(?:[A-Z][\w'’-]+|" + "|".join(sorted(PARTICLES)) + ")"
# One item of a line-up: "R McBryde", "Van Persie", "Reyes (Clichy 82)", "Palmer (capt)",
# "Lampard 28", "Terry 45 pen".
_PLAYER = re.compile(
    rf"^((?:[A-Z]{{1,2}}\.?\s|[A-Z]\s[A-Z]\s)?{_WORD}(?:\s{_WORD}){{0,3}})(?:\s+\d+(?:\s*pen)?)?"
    r"(?:\s*\(([^()]*)\))?$"
)
_IN_BRACKETS = re.compile(rf"^((?:[A-Z]{{1,2}}\.?\s)?{_WORD}(?:\s{_WORD}){{0,3}})\s+\d+")
_SHEET_LABELS = re.compile(
    r"^(?:subs(?: not used)?|substitutes|replacements|reserves|booked|sent off|sin[- ]bin|goals?"
    r"|scorers?|tries|cons|pens|drop goals?)$",
    re.IGNORECASE,
)
# Between the items of a line-up, but not inside a player's brackets ("G Gregan (Australia,
# capt)"), and where a comma was left out after them ("J Fourie (S Africa) T Umaga").
_ITEMS = re.compile(r"[,;/](?![^()]*\))|(?<=\))\s+(?=[A-Z])")
# After a surname: "Charles Evans Jr", "Guy Mansfield QC".


def team_sheet(text: str) -> list[str]:
    """A sports line-up ("Walder; May, Tait, Mayerhofler; ...", "Cech, Paulo Ferreira, Ricardo
    Carvalho (Drogba 45), Terry", "Subs Not Used: Kezman, Cudicini", "Booked: Makelele"):
    every item is a player, and so is a substitute in brackets; a club in brackets is not."""
    names: list[str] = []
    for part in re.split(r"(?<=[.])\s+(?=[A-Z-])", text):
        part = part.strip(" .-")
        label, _, body = part.rpartition(":") if ":" in part[:40] else ("", "", part)
        items = [item.strip(" .") for item in _ITEMS.split(body) if item and item.strip(" .")]
        if not items:
            continue
        labelled = bool(_SHEET_LABELS.match(label.strip()))
        if len(items) < 5 and not labelled:
            continue
        matches = [_PLAYER.match(item) for item in items]
        if not all(matches):
            continue
        for match in matches:
            assert match is not None
            names.append(match.group(1))
            bracket = _IN_BRACKETS.match((match.group(2) or "").strip())
            if bracket:
                names.append(bracket.group(1))
    return names


def appositive_people(doc: Doc) -> list[str]:
    """A name followed by what the person is: "Vijay Mallya, chair of the Indian firm",
    "Carolina Kluft, the Olympic heptathlon champion", "Jeremy Jaynes, 30,": a person, whatever
    the model labelled it."""
    found: list[str] = []
    i = 0
    while i < len(doc):
        end = name_run(doc, i)
        inside = i > 0 and doc[i - 1].pos_ == "PROPN" and doc[i - 1].is_title
        if end - i < 2 or (inside and doc[i - 1].lower_ not in TITLES):
            i = max(end, i + 1)
            continue
        j = end
        if j + 1 < len(doc) and doc[j].text == ",":
            k = j + 1
            if doc[k].like_num and k + 1 < len(doc) and doc[k + 1].text == ",":
                found.append(clean(doc[i:end].text))
            else:
                while k < len(doc) and k - j < 6 and doc[k].lower_ not in ROLE_HEADS:
                    if doc[k].pos_ not in {"DET", "ADJ", "PROPN", "NOUN", "PRON"} or not (
                        doc[k].is_alpha
                    ):
                        break
                    k += 1
                if (
                    k < len(doc)
                    and doc[k].lower_ in ROLE_HEADS
                    and (
                        k + 1 == len(doc)
                        or doc[k + 1].lower_ in {"of", "at", "for", ",", ".", "and", "to"}
                    )
                ):
                    found.append(clean(doc[i:end].text))
        i = end
    return found


_BY = frozenset({"directed", "written", "produced", "managed", "coached", "presented"})


def by_people(doc: Doc) -> list[str]:
    """ "directed by Jean-Pierre Jeunet", "managed by Mourinho": a person, whatever the label."""
    found: list[str] = []
    for i, token in enumerate(doc[:-2]):
        if token.lower_ in _BY and doc[i + 1].lower_ == "by":
            end = name_run(doc, i + 2)
            if end > i + 2 and doc[i + 2].ent_type_ not in {"GPE", "LOC", "FAC"}:
                found.append(clean(doc[i + 2 : end].text))
    return found


def possessive_people(doc: Doc) -> list[str]:
    """ "Ethiopia's Tirunesh Dibaba", "Fulham's Edwin van der Sar": two or three capitalised
    words after a place's or a club's possessive (kept only if the story uses the surname alone
    too: `rementioned`)."""
    found: list[str] = []
    for i, token in enumerate(doc[:-2]):
        if token.lower_ not in {"'s", "’s"} or doc[i - 1].ent_type_ not in {"GPE", "ORG", "NORP"}:
            continue
        end = name_run(doc, i + 1)
        if 2 <= end - i - 1 <= 3 and doc[i + 1].ent_type_ not in {"GPE", "LOC", "FAC"}:
            found.append(clean(doc[i + 1 : end].text))
    return found


def _list_item(doc: Doc, i: int) -> tuple[int, int] | None:
    """A name at i (after any honorifics), or None."""
    while i < len(doc) and doc[i].lower_ in HONORIFICS:
        i += 1
    end = name_run(doc, i)
    if end == i or doc[i].ent_type_ in {"GPE", "LOC", "FAC", "DATE", "NORP", "EVENT"}:
        return None
    if end < len(doc) and doc[end].like_num:  # "Maroon 5"
        return None
    return i, end


def listed_people(doc: Doc) -> list[str]:
    """The names of a list at least two thirds of whose items the model took for people are all
    people: "Madonna, Sir Elton John, Nelly and Usher", "Matt Dawson, Jonny Wilkinson, Phil
    Vickery and Hill"."""
    found: list[str] = []
    i = 0
    while i < len(doc):
        item = _list_item(doc, i)
        starts_sentence = i == 0 or (doc[i - 1].is_punct and doc[i - 1].text != ",")
        # "Bob the Builder, Postman Pat and Fireman Sam": "the Builder" is no one's name.
        after_the = i > 0 and doc[i - 1].lower_ == "the"
        if item is None or after_the or (starts_sentence and doc[i].ent_type_ != "PERSON"):
            i += 1
            continue
        items = [item]
        j = item[1]
        while j + 1 < len(doc) and doc[j].text in {",", "and"}:
            k = j + 2 if doc[j].text == "," and doc[j + 1].lower_ == "and" else j + 1
            following = _list_item(doc, k)
            if following is None:
                break
            items.append(following)
            j = following[1]
        # "Mr Blair and Liberal Democrat leader Charles Kennedy": a name before a noun is not one.
        if j < len(doc) and doc[j].pos_ in {"NOUN", "PROPN"}:
            items.pop()
        # "Led Zeppelin, Iron Maiden and Sex Pistols": what cannot be a name counts against.
        people = [
            (a, b)
            for a, b in items
            if all(t.ent_type_ == "PERSON" for t in doc[a:b]) and plausible(clean(doc[a:b].text))
        ]
        # "photographers David Bailey, Rankin and Nan Goldin": a list after a plural role.
        after_role = i > 0 and doc[i - 1].lower_ in ROLE_HEADS and doc[i - 1].tag_ == "NNS"
        if (len(items) >= 3 and len(people) * 3 >= len(items) * 2) or (
            after_role and len(items) >= 2
        ):
            found += [n for a, b in items if plausible(n := clean(doc[a:b].text))]
        i = max(j, i + 1)
    return found
