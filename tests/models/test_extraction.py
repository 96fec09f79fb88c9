"""People extraction on the sample story and on text that breaks naive extractors."""

from __future__ import annotations

import json
import time

import pytest

from models.extraction import PeopleExtractor
from tests.conftest import SAMPLE

SAMPLE_STORY = json.loads(SAMPLE.read_text().splitlines()[0])


@pytest.fixture(scope="module")
def extractor() -> PeopleExtractor:
    return PeopleExtractor()


def paragraphs(*texts: str) -> list[dict[str, str]]:
    return [{"type": "paragraph", "text": text} for text in texts]


def test_the_sample_names_exactly_five_people_with_their_roles(
    extractor: PeopleExtractor,
) -> None:
    found = extractor.extract(SAMPLE_STORY["title"], SAMPLE_STORY["dek"], SAMPLE_STORY["body"])

    assert {p.name: p.role for p in found.people} == {
        "Dmitry Peskov": "Kremlin spokesman",
        "Alexander Graf Lambsdorff": "German ambassador to Russia",
        "Vladimir Putin": "Russian President",
        "Boris Pistorius": "German Defence Minister",
        "Olaf Scholz": "Chancellor",
    }
    counts = {p.name: p.mentions for p in found.people}
    assert counts["Olaf Scholz"] == 3, "Chancellor Olaf Scholz, Scholz, Scholz's"
    assert counts["Vladimir Putin"] == 4


def test_sample_quotes_go_to_their_speakers(extractor: PeopleExtractor) -> None:
    found = extractor.extract(SAMPLE_STORY["title"], SAMPLE_STORY["dek"], SAMPLE_STORY["body"])
    quotes = [(q.speaker, q.text) for q in found.quotes]

    assert ("Dmitry Peskov", quotes[0][1]) == quotes[0]
    assert quotes[0][1].startswith("once again highlight the direct involvement")
    assert any(s == "Dmitry Peskov" and t.startswith("in itself suggests") for s, t in quotes)
    pistorius = [t for s, t in quotes if s == "Boris Pistorius"]
    assert "It is about using this recording to destabilise and unsettle us" in pistorius
    assert "We should not fall for Putin's line" in pistorius
    assert {s for s, _ in quotes} == {"Dmitry Peskov", "Boris Pistorius"}


def test_places_weapons_and_organisations_are_not_people(extractor: PeopleExtractor) -> None:
    found = extractor.extract(
        "KYIV WANTS TAURUS MISSILES",
        None,
        paragraphs(
            "Kyiv has asked Berlin for Taurus missiles, the Kremlin said.",
            "Britain sent Storm Shadow missiles; the Bundeswehr declined to comment.",
        ),
    )
    assert found.people == []


def test_names_with_diacritics_and_surnames_alone(extractor: PeopleExtractor) -> None:
    found = extractor.extract(
        "Schröder meets Zelenskyy",
        None,
        paragraphs(
            "Former Chancellor Gerhard Schröder met President Volodymyr Zelenskyy on Monday.",
            "Schröder said the talks were useful. Zelenskyy's office did not comment.",
        ),
    )
    people = {p.name: p for p in found.people}
    assert set(people) == {"Gerhard Schröder", "Volodymyr Zelenskyy"}
    assert people["Gerhard Schröder"].mentions == 3
    assert people["Volodymyr Zelenskyy"].role == "President"


@pytest.mark.parametrize(
    "body",
    [
        [],
        paragraphs(""),
        paragraphs("Путин заявил, что переговоры продолжатся. Песков отказался от комментариев."),
        paragraphs("word " * 100_000),
    ],
    ids=["no blocks", "empty paragraph", "russian", "100k words"],
)
def test_hard_input_neither_crashes_nor_hangs(extractor: PeopleExtractor, body: list) -> None:
    started = time.perf_counter()
    found = extractor.extract("A HEADLINE IN CAPITALS", None, body)
    assert time.perf_counter() - started < 60
    assert all(p.name for p in found.people)


def test_precision_and_recall_on_the_hand_labelled_stories_meet_the_targets() -> None:
    from models.evaluation import evaluate
    from tests.conftest import BBC, ROOT

    result = evaluate(ROOT / "tests" / "people" / "labelled-bbc.jsonl", BBC)

    assert len(result.stories) >= 30
    assert result.precision >= 0.95, result.precision
    assert result.recall >= 0.90, result.recall
