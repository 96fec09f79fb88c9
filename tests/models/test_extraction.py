"""People extraction on the sample story and on text that breaks naive extractors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.mark.parametrize(
    "labels",
    [
        "labelled-bbc.jsonl",
        "labelled-bbc-dev.jsonl",
        "labelled-bbc-dev3.jsonl",
        "labelled-bbc-dev5.jsonl",
    ],
)
def test_precision_and_recall_on_the_hand_labelled_stories_meet_the_targets(labels: str) -> None:
    """The sets the rules were tuned on (the fresh set is measured by `make eval-people` only,
    so that no failing test ever shows which of its names are missed)."""
    from models.evaluation import evaluate
    from tests.conftest import BBC, ROOT

    result = evaluate(ROOT / "tests" / "people" / labels, BBC)

    assert len(result.stories) >= 30
    assert result.precision >= 0.95, result.precision
    assert result.recall >= 0.90, result.recall


# Issue 18: real sentences of the demo corpus (none from the fresh labelled set), each a kind
# of mistake a reader saw in the people list.


def names(extractor: PeopleExtractor, *texts: str) -> set[str]:
    found = extractor.extract("A headline", None, paragraphs(*texts))
    return {p.name for p in found.people}


@pytest.mark.parametrize(
    "text, people",
    [
        (
            "The Secretary of State for Culture, Media and Sport, Tessa Jowell, has hit out at "
            "critics of the Gambling Bill.",
            {"Tessa Jowell"},
        ),
        (
            "But the government refused to back Lord Dubs' Succession to the Crown Bill, saying "
            "it was too complex and raised too many constitutional issues.",
            {"Dubs"},
        ),
        (
            "But it will also seek to push through its Serious and Organised Crime Bill and ID "
            "cards Bill.",
            set(),
        ),
        (
            "The measures passed into law virtually unnoticed after Mr Blunkett introduced them "
            "at a late stage of the Criminal Justice Bill.",
            {"Blunkett"},
        ),
    ],
    ids=["gambling bill", "crown bill", "crime bill", "criminal justice bill"],
)
def test_a_law_is_not_a_person(extractor: PeopleExtractor, text: str, people: set[str]) -> None:
    assert names(extractor, text) == people


@pytest.mark.parametrize(
    "text, people",
    [
        ("The top five includes Led Zeppelin, Iron Maiden and Sex Pistols.", set()),
        (
            "In last year's survey, Keane were followed by Franz Ferdinand, Razorlight and Joss "
            "Stone in the top five - all of whom were virtually unknown outside the music "
            "industry at that point.",
            {"Joss Stone"},
        ),
        (
            "Elsewhere on the top 10, second-placed rock band Bloc Party began their rise after "
            "supporting Franz Ferdinand and UK garage MC Kano, in third, is signed to The "
            "Streets' record label.",
            set(),
        ),
    ],
    ids=["sex pistols", "franz ferdinand", "bloc party"],
)
def test_a_band_is_not_a_person(extractor: PeopleExtractor, text: str, people: set[str]) -> None:
    bands = {"Led Zeppelin", "Iron Maiden", "Sex Pistols", "Keane", "Franz Ferdinand"}
    found = names(extractor, text)
    assert not found & (bands | {"Razorlight", "Bloc Party", "The Streets", "Streets"})
    assert people <= found  # (MC Kano, a rapper, is a person the rules do not find yet)


def test_every_player_of_a_line_up_is_a_person(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "Cech, Paulo Ferreira, Ricardo Carvalho (Drogba 45), Terry, Gallas, Duff, Tiago "
        "(Bridge 45), Makelele, Lampard, Robben, Gudjohnsen (Parker 77). Subs Not Used: Kezman, "
        "Cudicini.",
    )
    assert found == {
        "Cech", "Paulo Ferreira", "Ricardo Carvalho", "Drogba", "Terry", "Gallas", "Duff",
        "Tiago", "Bridge", "Makelele", "Lampard", "Robben", "Gudjohnsen", "Parker", "Kezman",
        "Cudicini",
    }  # fmt: skip


def test_a_rugby_line_up_with_initials_joins_the_players_named_in_full(
    extractor: PeopleExtractor,
) -> None:
    found = names(
        extractor,
        "Ronan O'Gara scored all Ireland's points. A late tackle on Brian O'Driscoll enabled "
        "O'Gara to notch another penalty.",
        "G Dempsey; G Murphy, B O'Driscoll (capt), S Horgan, D Hickie; R O'Gara, P Stringer; "
        "R Corrigan, S Byrne, J Hayes, M O'Kelly, P O'Connell, S Easterby, J O'Connor, A Foley.",
    )
    assert "Ronan O'Gara" in found and "Brian O'Driscoll" in found
    assert "R O'Gara" not in found and "B O'Driscoll" not in found
    assert {"G Dempsey", "P Stringer", "S Easterby", "A Foley"} <= found
    assert len(found) == 15


@pytest.mark.parametrize(
    "text, person",
    [
        (
            "Koubek, who defeated Britain's Greg Rusedski in the decisive rubber of the Davis "
            "Cup in September, is now set to miss the start of the season.",
            "Greg Rusedski",
        ),
        (
            "Olympic heptathlon champion Carolina Kluft was full of admiration for Britain's "
            "Kelly Sotherton as the pair prepared to clash in Birmingham.",
            "Kelly Sotherton",
        ),
        (
            "Britain's Rod Stewart introduced Percy Sledge, citing his best-known hit When a "
            'Man loves a Woman as "one of the best performances I\'ve ever heard".',
            "Rod Stewart",
        ),
    ],
    ids=["rusedski", "sotherton", "stewart"],
)
def test_a_name_after_a_country_s_possessive_is_found(
    extractor: PeopleExtractor, text: str, person: str
) -> None:
    assert person in names(extractor, text)
    assert "Britain" not in names(extractor, text)


def test_one_word_stage_names_are_people(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "They will join A-list singers Madonna, Sir Elton John, Nelly and Usher plus actors "
        "Kevin Spacey, Halle Berry and George Clooney on the NBC broadcast.",
    )
    assert {"Madonna", "Nelly", "Usher", "Elton John"} <= found


def test_a_film_named_after_its_hero_is_not_a_person(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "Also in the running, with two nominations, are high school comedy Napoleon Dynamite, "
        "The Door in the Floor and Garden State - written, directed and starring Scrubs star "
        "Zach Braff alongside Natalie Portman.",
    )
    assert found == {"Zach Braff", "Natalie Portman"}


# Issue 18, second round: sentences of labelled-bbc-dev3.jsonl (a tuning set), each a kind of
# name the model takes for a person's.


@pytest.mark.parametrize(
    "text, people",
    [
        (
            "This includes greyhound tracks at Wimbledon in London, Belle Vue in Manchester, "
            "Perry Barr and Hall Green in Birmingham, Oxford and Portsmouth.",
            set(),
        ),
        (
            "Those who died in the accident were Steve Arthur, 46, from Pease Pottage, West "
            "Sussex; Peter Monkhouse, 50, of Headingley, Leeds.",
            {"Steve Arthur", "Peter Monkhouse"},
        ),
        (
            "In the meantime, Euronext, which combines the Paris, Amsterdam and Lisbon stock "
            "exchanges, also began talks with the LSE. In a statement on Thursday, Euronext said "
            "any offer was likely to be solely in cash.",
            set(),
        ),
        (
            "Engineering firm Balfour Beatty and five railway managers are to go on trial. "
            "Balfour Beatty Rail Maintenance faces a corporate manslaughter charge.",
            set(),
        ),
        (
            "Swansea Unite Against Fascism (UAF) is meeting this week to plan a campaign. Andy "
            "Richards, of Swansea UAF, said the leaflet was exactly what he had come to expect.",
            {"Andy Richards"},
        ),
        (
            "Yahoo has grown up with the internet. Search will be a key focus as will making "
            "Yahoo Messenger available on mobiles, said Nick Hazel, Yahoo's head of consumer "
            "services.",
            {"Nick Hazel"},
        ),
        (
            "If the minimum wage increases, as an employer you will be paying higher Employer NI "
            "Contributions as well, Mr Blair.",
            {"Blair"},
        ),
        (
            "The latest move is aimed at encouraging more diversity in sport, with activities "
            "such as yoga and Tai Chi being options.",
            set(),
        ),
        (
            "Labour MPs have angrily criticised Tony Blair and Gordon Brown amid reports of a "
            "rift.",
            {"Tony Blair", "Gordon Brown"},
        ),
        ("Microsoft has released patches for MSN Messenger and Windows Messenger.", set()),
        (
            "It has also gone after auditors Grant Thornton. They have all denied any wrongdoing.",
            set(),
        ),
        (
            "London Underground thriller Creep was another new entry at six while quirky comedy "
            "Napoleon Dynamite was at seven.",
            set(),
        ),
        (
            "Law Lords ruled last month that the 12 were being held in contravention of human "
            "rights laws.",
            set(),
        ),
        (
            "Bookmaker William Hill has placed London-based Levy's novel as the 6/4 favourite.",
            set(),
        ),
    ],
    ids=[
        "places in a list",
        "place and county",
        "which",
        "firm and its unit",
        "organisation's title",
        "product",
        "acronym",
        "activity",
        "acronym alone",
        "product",
        "firm after its kind",
        "landmark",
        "court",
        "firm starting a sentence",
    ],
)
def test_places_organisations_and_activities_are_not_people(
    extractor: PeopleExtractor, text: str, people: set[str]
) -> None:
    assert names(extractor, text) == people


@pytest.mark.parametrize(
    "text, people",
    [
        (
            "And who remembers Trap Door voiced by the late Willie Rushden, superb children's "
            "programme.",
            {"Willie Rushden"},
        ),
        (
            "TV shows such as Battlestar Galactica have new remakes, DJ's are sampling or "
            "re-working 70's and 80's music.",
            set(),
        ),
        (
            "Many of those nominated for Oscars including Imelda Staunton - an Oscar nominee for "
            "her performance in Vera Drake - have also been nominated for Baftas.",
            {"Imelda Staunton"},
        ),
        (
            "Bob the Builder, Postman Pat and Fireman Sam together in an epic adventure of fire, "
            "post and bricks.",
            {"Postman Pat", "Fireman Sam"},  # characters, which the labels leave uncertain
        ),
        (
            "Jeffrey Richards, the show's co-producer, said Connick was \"an actor of enormous "
            'charisma".',
            {"Jeffrey Richards"},
        ),
        (
            "The first novel section was won by Susan Fletcher, beating the favourite Jonathan "
            "Strange and Mr Norrell by Susanna Clarke.",
            {"Susan Fletcher", "Susanna Clarke"},
        ),
        (
            "The Jimi Hendrix Experience's first single Hey Joe, signed by all the band, was "
            "sold for £2,000.",
            set(),
        ),
        (
            "Huggy Bear actor Antonio Fargas also remains a contender for eviction.",
            {"Antonio Fargas"},
        ),
        (
            "There are ports of PC and arcade classics such as Space Invaders, Lunar Lander and "
            "Bejewelled.",
            set(),
        ),
    ],
    ids=[
        "voiced by",
        "shows such as",
        "performance in",
        "the builder",
        "a show's producer",
        "a work by its author",
        "a single",
        "a show before its actor",
        "games",
    ],
)
def test_works_and_characters_are_not_people(
    extractor: PeopleExtractor, text: str, people: set[str]
) -> None:
    assert names(extractor, text) == people


def test_a_title_before_a_hyphenated_name_keeps_it_whole(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "Ex-chat show host Robert Kilroy-Silk is to contest the seat. Mr Kilroy-Silk announced "
        "his plans a day after launching his new party.",
    )
    assert found == {"Robert Kilroy-Silk"}


def test_a_capitalised_particle_joins_the_full_name(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "Manchester United striker Ruud van Nistelrooy may make his comeback. Ferguson was "
        "unhappy with Van Nistelrooy for not revealing he was carrying an injury.",
    )
    assert "Ruud van Nistelrooy" in found and "Van Nistelrooy" not in found


def test_names_ending_in_a_numeral_or_listed_with_people_stay_people(
    extractor: PeopleExtractor,
) -> None:
    assert names(extractor, "Pope John Paul II has appointed a new archbishop.") == {"John Paul II"}
    assert {"Brad Pitt", "Robert De Niro"} <= names(
        extractor, "Stars including Brad Pitt, Robert De Niro and fans flocked to the show."
    )


@pytest.mark.parametrize(
    "text, people",
    [
        (
            "The exhibition will feature images taken by photographers David Bailey, Rankin and "
            "Nan Goldin.",
            {"David Bailey", "Rankin", "Nan Goldin"},
        ),
        (
            "Rapper Young Buck has been charged after allegedly stabbing a man at the ceremony.",
            {"Young Buck"},
        ),
        (
            "We will say nothing of Mike Ruddock ''poaching'' eight of the Dragons side that "
            "faced Leinster on Sunday.",
            {"Mike Ruddock"},
        ),
        (
            "Veteran Spaniard Conchita Martinez came from a set down to beat Italian Roberta "
            "Vinci at the Qatar Open.",
            {"Conchita Martinez", "Roberta Vinci"},
        ),
        (
            "The bid was thrown out by Treasurer Peter Costello on national interest grounds.",
            {"Peter Costello"},
        ),
        (
            "The Lib Dems say they will look at his plans, but Tory Liam Fox said his party "
            'offered a "clear choice" on the issue.',
            {"Liam Fox"},
        ),
        (
            "Gardener cruised home ahead of Scot Nick Smith to win the invitational race.",
            {"Nick Smith"},
        ),
        (
            "Veteran comedian and broadcaster Cyril Fletcher has died aged 91 at his home in "
            "Guernsey.",
            {"Cyril Fletcher"},
        ),
        ('Mr Justice Eady said he was "obliged to compensate Mr Galloway".', {"Eady", "Galloway"}),
        (
            "Musician Alan Wass, 23, also of north London, appeared in court.",
            {"Alan Wass"},
        ),
    ],
    ids=[
        "list after a plural role",
        "title inside the name",
        "quote marks after the name",
        "nationality",
        "role",
        "party",
        "demonym",
        "second trade",
        "judge",
        "trade",
    ],
)
def test_people_the_model_half_finds_are_found(
    extractor: PeopleExtractor, text: str, people: set[str]
) -> None:
    assert names(extractor, text) == people


def test_brands_makers_and_initials_of_organisations_are_not_people(
    extractor: PeopleExtractor,
) -> None:
    assert not names(
        extractor,
        "Its top brands include Newcastle Brown Ale, Foster's, John Smith's, Strongbow and "
        "Kronenbourg.",
    )
    assert not names(
        extractor, "The cars were fitted with a faulty pump supplied by parts maker Robert Bosch."
    )
    assert not names(
        extractor,
        "So the Academy of Motion Pictures Arts and Sciences (Ampas) has done it for them. The "
        "names were decided by Ampas' producers branch.",
    )
    assert names(extractor, "Film-maker Spike Lee says black representation is stronger.") == {
        "Spike Lee"
    }


# Issue 18, third and fourth rounds: sentences of the demo corpus outside every held-out set.


def test_a_name_ends_at_its_sentence_and_before_a_quote(extractor: PeopleExtractor) -> None:
    listed = names(
        extractor,
        "Other multiple nominees include Maroon5, OutKast, Kanye West, R Kelly, Gretchen Wilson, "
        "Hoobastank and Jay-Z. Soul singer Stevie Wonder will receive Billboard's Century Award.",
    )
    assert "Stevie Wonder" in listed
    assert not any("Soul" in name for name in listed)
    assert names(
        extractor,
        "The threat of regulation went into freefall following Janet Jackson's 'wardrobe "
        "malfunction' during a live Super Bowl performance.",
    ) == {"Janet Jackson"}


def test_a_fuller_form_of_a_name_is_the_same_person(extractor: PeopleExtractor) -> None:
    found = extractor.extract(
        "Tory 'stalking horse' Meyer dies",
        None,
        paragraphs(
            "Sir Anthony Meyer, the Tory backbencher who challenged Margaret Thatcher for the "
            "party leadership in 1989, has died.",
            "Sir Anthony John Charles Meyer was born on 27 October, 1920.",
        ),
    )
    assert {p.name for p in found.people} == {"Anthony John Charles Meyer", "Margaret Thatcher"}


def test_a_squad_with_clubs_in_brackets_is_a_line_up(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "C Latham (Australia); R Caucaunibuca (Fiji), J Fourie (S Africa) T Umaga (New Zealand), "
        "S Bobo (Fiji); A Mehrtens (New Zealand) G Gregan (Australia, capt); T Kefu (Australia). "
        "Reserves: B Reihana (New Zealand), B Lima (Samoa), E Taukafa (Tonga).",
    )
    assert {"C Latham", "J Fourie", "T Umaga", "G Gregan", "B Reihana", "E Taukafa"} <= found
    assert not found & {"Australia", "Fiji", "New Zealand", "Samoa"}


def test_a_royal_keeps_his_first_name(extractor: PeopleExtractor) -> None:
    found = names(
        extractor,
        "Prince Charles and Camilla Parker Bowles are awaiting the nation's reaction.",
        'Charles said he and his wife-to-be were "absolutely delighted".',
        "Liberal Democrat leader Charles Kennedy also offered his congratulations.",
    )
    assert {"Charles", "Camilla Parker Bowles", "Charles Kennedy"} <= found


# Stories where two people share a surname ("Danny Collins", "James Collins") or the role
# before a name differs by mention ("President Chavez", "Venezuelan President Hugo Chavez").
_SHARED_SURNAMES = [
    "injury-doubts-beset-wales-squad",
    "wales-silent-on-grand-slam-talk",
    "argentina-venezuela-in-oil-deal",
    "lufthansa-may-sue-over-bush-visit",
]
_PRINT_PEOPLE = """
import json, sys
from models.extraction import PeopleExtractor
stories = {s["slug"]: s for s in map(json.loads, open(sys.argv[1], encoding="utf-8"))}
chosen = [stories[slug] for slug in sys.argv[2:]]
found = PeopleExtractor().extract_many([(s["title"], s["dek"], s["body"]) for s in chosen])
print(json.dumps([[(p.name, p.role, p.mentions) for p in f.people] for f in found]))
"""


def test_every_process_finds_the_same_people_roles_and_mentions() -> None:
    """Python orders sets differently in each process: roles and mention counts must not
    depend on it, or a story would change its people each time it is extracted again."""
    from tests.conftest import BBC, ROOT

    outputs = {
        subprocess.run(
            [sys.executable, "-c", _PRINT_PEOPLE, str(BBC), *_SHARED_SURNAMES],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1, outputs
