"""Who said what: the quotes of a story attributed to its people by the speech verb beside them
(`"...," X said`, `said X`, `X warned that "..."`), the last speaker for `"...," he said`, or a
role (`The Kremlin spokesman said "..."`). models/extraction.py finds the people first."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from models.extraction_rules import SPEECH, TITLES

if TYPE_CHECKING:
    from models.extraction import ExtractedPerson

QUOTE = re.compile(r"[\"“”]([^\"“”]{3,}?)[\"“”]")
_SPEECH = re.compile(r"\b(" + "|".join(sorted(SPEECH)) + r")\b", re.IGNORECASE)
_PRONOUN_SAID = re.compile(
    r"^[\s,]*[\"”]?\s*(he|she)\s+(" + "|".join(sorted(SPEECH)) + r")\b", re.I
)


def attributed(paragraphs: list[str], people: list[ExtractedPerson]) -> list[tuple[str, str]]:
    """Each quote of `paragraphs` with three words or more, and who said it (by the speech verb
    beside it, the last speaker for "he said", or a role), as (speaker's name, quote)."""
    quotes: list[tuple[str, str]] = []
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
                _speaker_after(after, by_form)
                or (last_speaker if _PRONOUN_SAID.match(after) else None)
                or _speaker_before(before, by_form, roles)
            )
            if speaker is None and re.search(r"\b(he|she)\s+$|\bthat\s+(he|she)\s+$", before):
                speaker = last_speaker
            if speaker:
                quotes.append((speaker, quote))
                last_speaker = speaker
    return quotes


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
