"""Precision and recall of people extraction against stories labelled by hand."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from slugify import slugify

from models.extraction import PeopleExtractor


@dataclass
class StoryScore:
    """One story's names, slugified; the labeller's "uncertain" names are left out of both
    sides: neither expected nor, when found, counted against the extractor."""

    slug: str
    expected: set[str]
    found: set[str]

    @property
    def true_positives(self) -> int:
        return len(self.expected & self.found)

    @property
    def precision(self) -> float:
        return self.true_positives / len(self.found) if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / len(self.expected) if self.expected else 1.0


@dataclass
class Evaluation:
    stories: list[StoryScore]
    words: int
    seconds: float

    @property
    def precision(self) -> float:
        found = sum(len(s.found) for s in self.stories)
        return sum(s.true_positives for s in self.stories) / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = sum(len(s.expected) for s in self.stories)
        return sum(s.true_positives for s in self.stories) / expected if expected else 1.0

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds else 0.0


def evaluate(labels: Path, corpus: Path) -> Evaluation:
    """Extract people from each labelled story and compare names (case and accents folded)."""
    stories = {
        json.loads(line)["slug"]: json.loads(line) for line in corpus.read_text().splitlines()
    }
    extractor = PeopleExtractor()
    extractor.extract("warm-up", None, [{"type": "paragraph", "text": "Tony Blair spoke."}])
    scores, words, started = [], 0, time.perf_counter()
    for line in labels.read_text().splitlines():
        if not line.strip():
            continue
        label = json.loads(line)
        story = stories[label["slug"]]
        found = extractor.extract(story["title"], story.get("dek"), story["body"])
        words += sum(len(b["text"].split()) for b in story["body"]) + len(story["title"].split())
        uncertain = {slugify(name) for name in label.get("uncertain", [])}
        scores.append(
            StoryScore(
                slug=label["slug"],
                expected={slugify(name) for name in label["people"]} - uncertain,
                found={slugify(person.name) for person in found.people} - uncertain,
            )
        )
    return Evaluation(stories=scores, words=words, seconds=time.perf_counter() - started)
