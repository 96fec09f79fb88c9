"""Draw the stories of labelled-bbc-fresh.jsonl (see README.md): run from the repository root."""

import json
import random
from pathlib import Path

SEED = 20261202
PER_SECTION = 8
HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "demo" / "bbc-news.jsonl"
EXCLUDED_SETS = ("labelled-bbc.jsonl", "labelled-bbc-session.jsonl")


def draw():
    excluded = set()
    for name in EXCLUDED_SETS:
        with open(HERE / name, encoding="utf-8") as labels:
            excluded.update(json.loads(line)["line"] for line in labels if line.strip())
    by_section = {}
    with open(CORPUS, encoding="utf-8") as corpus:
        for number, line in enumerate(corpus, start=1):
            if number in excluded:
                continue
            story = json.loads(line)
            by_section.setdefault(story["section"], []).append((number, story["slug"]))
    rng = random.Random(SEED)
    drawn = []
    for section in sorted(by_section):
        drawn.extend(rng.sample(by_section[section], PER_SECTION))
    return drawn


if __name__ == "__main__":
    for number, slug in draw():
        print(number, slug)
