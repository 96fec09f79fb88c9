"""Draw the stories of a labelled set (see README.md): run from the repository root.

With no options it repeats the draw of labelled-bbc-fresh.jsonl. The dev set is
`python3 tests/people/draw_fresh.py --seed 20261203 --exclude labelled-bbc.jsonl
labelled-bbc-session.jsonl labelled-bbc-fresh.jsonl --distinct`; the second dev set adds
`--seed 20261204 --per-section 4` and labelled-bbc-dev.jsonl to the excluded sets. The second
held-out set, labelled-bbc-fresh2.jsonl, is `python3 tests/people/draw_fresh.py --seed 20261205
--distinct --exclude labelled-bbc.jsonl labelled-bbc-session.jsonl labelled-bbc-fresh.jsonl
labelled-bbc-dev.jsonl labelled-bbc-dev2.jsonl`. The later sets' draws are in README.md.
"""

import argparse
import json
import random
from pathlib import Path

SEED = 20261202
PER_SECTION = 8
HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "demo" / "bbc-news.jsonl"
EXCLUDED_SETS = ("labelled-bbc.jsonl", "labelled-bbc-session.jsonl")


def _text(story):
    return (story["title"], tuple(block["text"] for block in story["body"]))


def draw(seed=SEED, excluded_sets=EXCLUDED_SETS, distinct=False, per_section=PER_SECTION):
    """Per section in sorted order, `rng.sample` of its eligible lines in file order.

    distinct also leaves out any line whose title and body repeat an excluded story's or an
    earlier line's (the corpus holds some stories twice under two slugs)."""
    excluded = set()
    for name in excluded_sets:
        with open(HERE / name, encoding="utf-8") as labels:
            excluded.update(json.loads(line)["line"] for line in labels if line.strip())
    with open(CORPUS, encoding="utf-8") as corpus:
        stories = [json.loads(line) for line in corpus]
    seen = {_text(stories[number - 1]) for number in excluded} if distinct else set()
    by_section = {}
    for number, story in enumerate(stories, start=1):
        if number in excluded:
            continue
        if distinct:
            if _text(story) in seen:
                continue
            seen.add(_text(story))
        by_section.setdefault(story["section"], []).append((number, story["slug"]))
    rng = random.Random(seed)
    drawn = []
    for section in sorted(by_section):
        drawn.extend(rng.sample(by_section[section], per_section))
    return drawn


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--exclude", nargs="+", default=list(EXCLUDED_SETS))
    parser.add_argument("--distinct", action="store_true")
    parser.add_argument("--per-section", type=int, default=PER_SECTION)
    options = parser.parse_args()
    for number, slug in draw(options.seed, options.exclude, options.distinct, options.per_section):
        print(number, slug)
