"""The rules that correct spaCy's people (models/extraction.py): the word lists of
`data/people.json`, and the checks a name, a role or a sports line-up must pass."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

_DATA = json.loads((Path(__file__).parent / "data" / "people.json").read_text())
TITLES = frozenset(_DATA["titles"])
ROLE_HEADS = frozenset(_DATA["role_heads"])
HONORIFICS = frozenset(_DATA["honorifics"])
FAMILY = frozenset({"wife", "husband", "son", "sons", "daughter", "daughters", "twins", "children"})
SPEECH = frozenset(_DATA["speech_verbs"])
PERSON_VERBS = frozenset(_DATA["person_verbs"])
NOT_PEOPLE = frozenset(_DATA["not_people"])
NOT_PERSON_WORDS = frozenset(_DATA["not_person_words"])
NOT_PERSON_ENDINGS = frozenset(_DATA["not_person_endings"])
NAMED_AFTER = frozenset(_DATA["named_after"])
CALENDAR = frozenset(_DATA["calendar"])
WORK_WORDS = frozenset(_DATA["work_words"])
WORK_KINDS = frozenset(_DATA["work_kinds"])
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
        "della",
        "delle",
        "dos",
        "das",
        "do",
        "ibn",
    }
)
_WORD = r"(?:[A-Z][\w'’-]+|" + "|".join(sorted(PARTICLES)) + ")"
# One item of a line-up: "R McBryde", "Van Persie", "Reyes (Clichy 82)", "Palmer (capt)",
# "Lampard 28", "Terry 45 pen".
_PLAYER = re.compile(
    rf"^((?:[A-Z]{{1,2}}\.?\s)?{_WORD}(?:\s{_WORD}){{0,3}})(?:\s+\d+(?:\s*pen)?)?"
    r"(?:\s*\(([^()]*)\))?$"
)
_IN_BRACKETS = re.compile(rf"^((?:[A-Z]{{1,2}}\.?\s)?{_WORD}(?:\s{_WORD}){{0,3}})\s+\d+")
_SHEET_LABELS = re.compile(
    r"^(?:subs(?: not used)?|substitutes|replacements|booked|sent off|sin[- ]bin|goals?"
    r"|scorers?|tries|cons|pens|drop goals?)$",
    re.IGNORECASE,
)
# After a surname: "Charles Evans Jr", "Guy Mansfield QC".
SUFFIXES = frozenset({"jr", "sr", "jnr", "snr", "ii", "iii", "iv"})
_HONOURS = frozenset({"qc", "kc", "mp", "mep", "obe", "mbe", "cbe", "msp", "am"})
_CLAUSE_WORDS = frozenset({"but", "while", "that", "when", "because", "where", "after", "before"})
_STARRED = frozenset({"starred", "starring", "stars"})
NON_PERSON_LABELS = frozenset(
    {"GPE", "LOC", "ORG", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART"}
)


def clean(name: str) -> str:
    """The name without the punctuation around it, a possessive, or a title before it."""
    # "Alan Milburn - a key ally": the model ran on past a dash.
    name = re.split(r"\s[-–—]\s", name, maxsplit=1)[0]
    name = re.sub(r"[’']s$|[’']$", "", name.strip(' \t\n,.;:!?()[]"“”‘’'))
    words = name.split()
    # Titles, honorifics and a day or month the model ran into the name ("Tuesday Mitsubishi").
    while words and words[0].lower().strip(".") in HONORIFICS | TITLES | CALENDAR:
        words.pop(0)
    while len(words) > 1 and words[-1].strip(".,").lower() in _HONOURS and words[-1].isupper():
        words.pop()
    return " ".join(words)


def surname(name: str) -> str:
    """The last word of a name that is not a suffix: "Evans" for "Charles Evans Jr"."""
    words = name.split()
    while len(words) > 1 and words[-1].lower().strip(".") in SUFFIXES:
        words.pop()
    return words[-1]


def initialled(short: str, full: str) -> bool:
    """ "K Maggs" is Kevin Maggs, "AJ Venter" is not Bakkies Venter."""
    initials, _, rest = short.partition(" ")
    first = full.split()[0]
    return (
        1 <= len(initials.rstrip(".")) <= 2
        and initials.rstrip(".").isupper()
        and rest == " ".join(full.split()[1:])
        and first[0] == initials[0]
        and len(first) > 2
    )


def plausible(name: str) -> bool:
    """At most five capitalised words (or particles), no digits, no word that names no one."""
    words = name.split()
    if not words or len(words) > 5 or name.lower() in NOT_PEOPLE:
        return False
    if any(ch.isdigit() or ch in ",;/" for ch in name):
        return False
    if any(w.lower() in NOT_PERSON_WORDS for w in words):
        return False
    # "the Crime Bill", "the Tony Award", "Downing St": a law, a prize, a street.
    if len(words) > 1 and words[-1].lower() in NOT_PERSON_ENDINGS:
        return False
    return all(w[0].isupper() or w.lower() in PARTICLES for w in words if w)


def extend_left(doc: Doc, start: int, end: int) -> str:
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


def looks_like_a_name(doc: Doc, ent: Span) -> bool:
    """ "Finding Nemo" and "Kill Bill" are titles, "Matthew Harding stand" is a place."""
    if len(ent) > 1 and any(
        t.pos_ != "PROPN" and t.lower_ not in PARTICLES for t in ent if t.is_alpha
    ):
        return False
    after = doc[ent.end] if ent.end < len(doc) else None
    if after is not None and after.lower_ in NAMED_AFTER:
        return False
    # "the Sex Pistols", "the Gielgud": people's names take no article.
    if ent.start > 0 and doc[ent.start - 1].lower_ == "the":
        return False
    if len(ent) == 1:
        return True
    # "Kill Bill director Quentin Tarantino", "Beyond Borders, which starred": a work's title;
    # "Neil Hammerton, managing director of Email Systems" is a person.
    following = [t.lower_ for t in doc[ent.end : ent.end + 3]]
    if following and following[0] in WORK_WORDS:
        return False
    return not (following[:1] == [","] and any(w in _STARRED for w in following[1:]))


def team_sheet(text: str) -> list[str]:
    """A sports line-up ("Walder; May, Tait, Mayerhofler; ...", "Cech, Paulo Ferreira, Ricardo
    Carvalho (Drogba 45), Terry", "Subs Not Used: Kezman, Cudicini", "Booked: Makelele"):
    every item is a player, and so is a substitute in brackets; a club in brackets is not."""
    names: list[str] = []
    for part in re.split(r"(?<=[.])\s+(?=[A-Z-])", text):
        part = part.strip(" .-")
        label, _, body = part.rpartition(":") if ":" in part[:40] else ("", "", part)
        items = [item.strip(" .") for item in re.split(r"[,;/]", body) if item.strip(" .")]
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


def supported(name: str, text: str, person_only: bool) -> bool:
    """A one-word name counts only where the story treats it as a person's: after a title or
    honorific ("Mr Kerry", "President Bush"), or next to a speech verb ("said Cragg") when the
    model mostly took it for a person (companies say things too)."""
    # Small patterns, one per name: an alternation of every title and verb would be compiled
    # afresh for each name, which cost more than the checks.
    for match in re.finditer(rf"(\w+)(\.?)\s+{re.escape(name)}\b", text):
        if match.group(1).lower() in TITLES | HONORIFICS:
            return True
        if person_only and match.group(1).lower() in SPEECH and not match.group(2):
            return True
    if person_only:
        # "said Cragg", "Cragg said", "Raul bagged a brace", "Ronaldino wasted a chance".
        for match in re.finditer(rf"\b{re.escape(name)}\s+(\w+)", text):
            if match.group(1).lower() in SPEECH | PERSON_VERBS:
                return True
    return False


def role_before(doc: Doc, start: int) -> str | None:
    """Title words right before a name: "German Defence Minister" for Boris Pistorius."""
    words: list[Token] = []
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


def wider_role(role: str, text: str) -> str:
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


def _name_run(doc: Doc, start: int, limit: int = 4) -> int:
    """The end of the run of capitalised proper nouns (and particles) from start, or start;
    "Jean-Pierre" (three tokens) counts as one word."""
    end = start
    while (
        end < len(doc)
        and end - start < limit
        and (
            (doc[end].pos_ == "PROPN" and doc[end].is_title and doc[end].lower_ not in TITLES)
            or (end > start and doc[end].lower_ in PARTICLES)
        )
    ):
        end += 1
        hyphen = end + 1 < len(doc) and doc[end].text == "-" and not doc[end - 1].whitespace_
        if hyphen and doc[end + 1].is_title and not doc[end].whitespace_:
            end += 1
            limit += 2
    while end > start and doc[end - 1].lower_ in PARTICLES:
        end -= 1
    return end


def works(doc: Doc) -> set[str]:
    """Names this text gives as the title of a work or a band, never a person's in this story:
    after a kind of work or band ("comedy Napoleon Dynamite", "rock band Bloc Party"), after a
    full name's possessive ("Susanna Clarke's Jonathan Strange"), before ", a novel", where
    someone "plays a drunkard in Duane Hopwood", or a name that "were" ("Keane were")."""
    found: set[str] = set()
    for i, token in enumerate(doc):
        if token.lower_ in WORK_KINDS and token.pos_ == "NOUN" and i + 1 < len(doc):
            end = _name_run(doc, i + 1, 5)
            if end > i + 1:
                found.add(clean(doc[i + 1 : end].text))
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
    # "Keane were followed by Franz Ferdinand": one person is never "were".
    for ent in doc.ents:
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
    r"|sitcom|series|show|programme|game)\b"
)
_PLAYS_IN = re.compile(
    r"\b(?:plays|played|playing|stars|starred|starring|appears|appeared|role)\b"
    r"[^.,;:\"“”]{0,60}?\bin\s+" + _CAPS + r"(?=[,.;]|\s+(?:and|while|but|,)\b)"
)


def appositive_people(doc: Doc) -> list[str]:
    """A name followed by what the person is: "Vijay Mallya, chair of the Indian firm",
    "Carolina Kluft, the Olympic heptathlon champion", "Jeremy Jaynes, 30,": a person, whatever
    the model labelled it."""
    found: list[str] = []
    i = 0
    while i < len(doc):
        end = _name_run(doc, i)
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
            end = _name_run(doc, i + 2)
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
        end = _name_run(doc, i + 1)
        if 2 <= end - i - 1 <= 3 and doc[i + 1].ent_type_ not in {"GPE", "LOC", "FAC"}:
            found.append(clean(doc[i + 1 : end].text))
    return found


def rementioned(name: str, text: str) -> bool:
    """The surname of a full name stands alone elsewhere, as people's do ("Dibaba won",
    "Cardinal O'Connor"): organisations come back by their first word or whole."""
    words = name.split()
    if len(words) < 2:
        return False
    for match in re.finditer(rf"(?<![\w'’-]){re.escape(words[-1])}(?![\w-])", text):
        before = text[max(0, match.start() - 40) : match.start()].split()
        after = text[match.end() : match.end() + 40].split()
        previous = before[-1] if before else ""
        capitalised = bool(previous) and previous[0].isupper()
        titled = previous.lower().strip(".") in TITLES | HONORIFICS
        if capitalised and not titled and not re.search(r"[.!?:\"“”]$", previous):
            continue
        if after and after[0][0].isupper() and not re.match(r"[’']s\b", after[0]):
            continue
        return True
    return False


def before_dash(ent: Span) -> Span:
    """ "Alan Milburn - a key ally": the model ran on past a spaced dash (not Jean-Louis)."""
    for token in ent:
        if token.text in {"-", "–", "—"} and token.i > ent.start and token.nbor(-1).whitespace_:
            span = ent.doc[ent.start : token.i]
            span.label_ = ent.label_
            return span
    return ent


def _list_item(doc: Doc, i: int) -> tuple[int, int] | None:
    """A name at i (after any honorifics), or None."""
    while i < len(doc) and doc[i].lower_ in HONORIFICS:
        i += 1
    end = _name_run(doc, i)
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
        if item is None or (starts_sentence and doc[i].ent_type_ != "PERSON"):
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
        if len(items) >= 3 and len(people) * 3 >= len(items) * 2:
            found += [n for a, b in items if plausible(n := clean(doc[a:b].text))]
        i = max(j, i + 1)
    return found
