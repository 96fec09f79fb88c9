"""Screening readers' comments before they are shown: profanity and slurs, and link spam.

A comment that fails is not refused; it waits for a moderator (PENDING). The profanity model is
alt-profanity-check's (a linear model trained on labelled comments, shipped in the package), so
misspelt and unlisted insults are caught too, not just the words of a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

PROFANITY_THRESHOLD = 0.5
MAX_LINKS = 1
_LINK = re.compile(r"(https?://|www\.)\S+|\b[\w-]+\.(com|net|org|ru|info|biz|io|ly|xyz)\b", re.I)


@dataclass(frozen=True, slots=True)
class Verdict:
    needs_moderation: bool
    reasons: tuple[str, ...] = ()


@cache
def _model() -> Any:
    # Loading scikit-learn takes about 1.5 s: once per process, at start-up (see warm_up).
    from profanity_check import predict_prob

    return predict_prob


def warm_up() -> None:
    _model()


def screen(body: str, author_name: str | None = None) -> Verdict:
    """Whether a comment must wait for a moderator, and why."""
    reasons = []
    texts = [body] + ([author_name] if author_name else [])
    if max(float(p) for p in _model()(texts)) >= PROFANITY_THRESHOLD:
        reasons.append("profanity")
    if len(_LINK.findall(body)) > MAX_LINKS:
        reasons.append("links")
    return Verdict(needs_moderation=bool(reasons), reasons=tuple(reasons))
