"""The word lists of `data/people.json` and the checks on a name's shape and role that
models/extraction.py applies to spaCy's people: what a name may look like, how it is cleaned,
when a one-word name counts, the role before it. What the text says for or against a name is
in models/extraction_clues.py (a person's) and models/extraction_things.py (a work's, a
place's, an organisation's)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

_DATA = json.loads((Path(__file__).parent / "data" / "people.json").read_text())
TITLES = frozenset(_DATA["titles"])
DEMONYMS = frozenset(_DATA["demonyms"])
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
ORGANISATION_KINDS = frozenset(_DATA["organisation_kinds"])
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
SUFFIXES = frozenset({"jr", "sr", "jnr", "snr", "ii", "iii", "iv"})
_HONOURS = frozenset({"qc", "kc", "mp", "mep", "obe", "mbe", "cbe", "msp", "am"})
_NOT_ANYONE = NOT_PEOPLE | DEMONYMS  # "Briton" alone names no one
_SENTENCE_END = re.compile(r"(?<=[^\s.]{2})(?<!\b(?:St|Jr|Sr|Dr|Mr|Ms))\.\s+(?=[A-Z])")
_STARRED = frozenset({"starred", "starring", "stars"})
NON_PERSON_LABELS = frozenset(
    {"GPE", "LOC", "ORG", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART"}
)


def clean(name: str) -> str:
    """The name without the punctuation around it, a possessive, or a title before it."""
    # "Alan Milburn - a key ally": the model ran on past a dash.
    name = re.split(r"\s[-–—]\s", name, maxsplit=1)[0]
    # "Jay-Z. Soul singer Stevie Wonder": the model ran on past the end of a sentence (an
    # initial's full stop, "George W. Bush", is not one).
    name = _SENTENCE_END.split(name, maxsplit=1)[0]
    # Quote marks after it first: "Janet Jackson's 'wardrobe malfunction'".
    name = re.sub(r"\s*[’']+$", "", name.strip(' \t\n,.;:!?()[]"“”‘’'))
    name = re.sub(r"[’']s$", "", name)
    words = name.split()
    # Titles, honorifics and a day or month the model ran into the name ("Tuesday Mitsubishi").
    titled = False
    while words and words[0].lower().strip(".") in HONORIFICS | TITLES | CALENDAR:
        titled = words[0].lower() in HONORIFICS | TITLES
        words.pop(0)
    # "Lord Justices Clarke and Rix": a judges' title ("Justice" alone is one of TITLES).
    if titled and len(words) > 1 and words[0].lower() == "justices":
        words.pop(0)
    # "Spaniard Conchita Martinez", "Scot Kathy Butler": a nationality the model ran into it.
    while len(words) > 1 and words[0].lower() in DEMONYMS:
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
    if not words or len(words) > 5 or name.lower() in _NOT_ANYONE:
        return False
    if any(ch.isdigit() or ch in ",;/" for ch in name):
        return False
    if any(w.lower() in NOT_PERSON_WORDS for w in words):
        return False
    # "MPs", "RICS", "MSN Messenger": an acronym is an organisation's, a group's or a product's
    # (two letters start a name: "AJ Venter", "PJ Harvey").
    if re.fullmatch(r"[A-Z]{2,}s?", words[0]) and (len(words) == 1 or len(words[0]) > 2):
        return False
    # "Employer NI Contributions", "Sony PSP": an acronym inside is an organisation's or a thing's
    # (initials start a name: "AJ Venter"; "Pope John Paul II" ends in a numeral).
    if any(
        len(w) > 1 and w.isupper() and w.isalpha() and w.lower() not in SUFFIXES for w in words[1:]
    ):
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
    # "Rapper Young Buck": the model sometimes takes the title into the name.
    words = [t for t in ent if t.is_alpha]
    while len(words) > 1 and words[0].lower_ in TITLES | HONORIFICS:
        words.pop(0)
    if len(words) > 1 and any(t.pos_ != "PROPN" and t.lower_ not in PARTICLES for t in words):
        return False
    after = doc[ent.end] if ent.end < len(doc) else None
    if after is not None and after.lower_ in NAMED_AFTER:
        return False
    # "Swansea Unite Against Fascism": a capitalised "Against", "Of" or "The" carries a name on
    # into the title of an organisation or a work.
    if after is not None and after.is_title and after.pos_ in {"ADP", "DET", "CCONJ"}:
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


def name_run(doc: Doc, start: int, limit: int = 4) -> int:
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
