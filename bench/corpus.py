"""A large, deterministic benchmark corpus, written straight into the project's database.

The demo data holds 2,225 BBC stories without authors, topics, people or comments: too small and
too bare to show how the API behaves with a real archive (long comment threads, popular people,
topics with thousands of stories). This module recombines the BBC text with a seeded generator
into a corpus of any size that still reads like news, so that site search and related stories
have something meaningful to rank:

- each story takes its title, dek and first paragraphs from one BBC story and continues with
  sentences from another story of the same area, so that no two stories are the same text;
- topics are the capitalised names the BBC text mentions most (places, parties, clubs, firms),
  and a story gets the ones its text names before any others;
- people, authors and readers come from name lists, each person with a beat (section) and a role,
  quoted by name in the stories that mention them;
- comments cluster on a few stories, as they do on a real site.

Rows go in through the project's own tables with SQLAlchemy Core `executemany`, primary keys
chosen here so that links need no round trip: the importer writes one story at a time through
the ORM, which is fine for a feed and far too slow for 300,000 rows (the default corpus takes
about 10 seconds on PostgreSQL this way). No search outbox rows are
written: a benchmark reindexes the whole corpus in one go. Mentions are marked as extracted
(`people_hash` = `content_hash`), or the people worker would run spaCy over every story and
replace the generated mentions with what it finds.

The same parameters give the same rows, except that all timestamps are relative to midnight UTC
of the day of the run ("the last two years").

    python -m bench.corpus --database-url postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from slugify import slugify
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models import migrate
from models.article import Article, ArticleAuthor, ArticleTopic, Author, Section, text_hash
from models.comment import Comment
from models.enums import ArticleStatus, BlockType, CommentStatus
from models.person import Mention, Person, Quote
from models.session import create_engine
from models.topic import Topic

BBC = Path(__file__).resolve().parent.parent / "demo" / "bbc-news.jsonl"
SLUG_PREFIX = "bench-"
SOURCE = "bench-corpus"
CHUNK = 5_000
AUTHORS = 100
READERS = 3_000
DAYS = 730

# Parents before children, so that foreign keys hold after every chunk.
TABLES: tuple[sa.Table, ...] = tuple(
    model.__table__
    for model in (
        Section,
        Author,
        Topic,
        Person,
        Article,
        ArticleAuthor,
        ArticleTopic,
        Mention,
        Quote,
        Comment,
    )
)
COUNTED = {table.name: table for table in TABLES}


def _words(text: str) -> list[str]:
    """Word lists written as running text: a hundred names read better than a hundred lines."""
    return text.split()


class CorpusError(RuntimeError):
    """The database holds something other than the corpus asked for."""


# Text from the BBC ------------------------------------------------------------------------------

# A sentence ends at . ! or ? (maybe closing a quote) before a capital, a digit or a quote.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"\u201d]))\s+(?=[\"\u201cA-Z0-9])",
)
# Runs of one to four capitalised words or acronyms, not at a sentence start nor glued to an
# apostrophe (O'Sullivan) or an opening quote: the proper names of the text.
_NAME_RUN = re.compile(
    r"(?<![.!?\"'\u2018\u201c\u201d]\s)(?<![\w'\"\u2018\u2019\u201c])"
    r"(?:[A-Z][a-z]+|[A-Z]{2,5})(?:\s(?:[A-Z][a-z]+|[A-Z]{2,5})){0,3}\b(?![\'\u2019][A-Z])"
)
# Words that start a capitalised run without being part of the name: titles ("Prime Minister
# Tony Blair" is Tony Blair) and words that open a sentence after a colon or a dash.
_LEADING = frozenset(
    _words("""
    A An And As At But By For From He Her His I If In It Its Mr Mrs Ms Dr Of On Or She So That
    The Their There These They This To We When While With You After Before Under Over Former Now
    Last Next Some All Many Most One Two Three According Both Even Also However Meanwhile Despite
    During Since Although Among Other Our My Yes No Not Then What Why How Who Where Sir Lord
    President Prime Minister Chancellor Secretary Foreign Home Deputy Shadow Chief Executive Coach
    Manager Captain Judge Senator Governor Director Chairman Professor Tory Labour Conservative
    Liberal Democrat""")
)
_CALENDAR = frozenset(
    _words("""January February March April May June July August September October November December
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Christmas""")
)
# Single words that are capitalised but name nothing a reader would follow as a topic.
_NOT_TOPICS = frozenset(
    _words("""People House Channel Breakfast Chapter Appeal Election Anti Rings Department Office
    Association City University Court Commission Century Institute Radio Sport United Dem Bank
    King Queen Fed Blues Blacks News Group Party Service Club Council Committee Company Minister
    Secretary Government Agency Post Times Show Awards Cup Open League Today GMT Test Obviously
    Once Everyone Every Hopefully Olympic German French Dutch Swiss Greek Thai Welsh English
    Everything Nothing Well Film Game Women Man Life Francis Leonardo""")
)
_DEMONYM = re.compile(r"(?:ish|ese|ian|ean|ican|ans|ons|ots)$")


@dataclass(slots=True)
class Story:
    """One BBC story, cut into what the generator recombines."""

    title: str
    section: str
    source_id: str
    lead: str
    sentences: list[str]
    names: list[str]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _names(text: str) -> list[str]:
    found: dict[str, None] = {}
    for match in _NAME_RUN.finditer(text):
        if match.start() == 0:
            continue
        words = match.group(0).split()
        while words and (words[0] in _LEADING or words[0] in _CALENDAR):
            words = words[1:]
        while words and words[-1] in _CALENDAR:
            words = words[:-1]
        if not words or len(" ".join(words)) < 3:
            continue
        if len(words) == 1 and (words[0] in _NOT_TOPICS or _DEMONYM.search(words[0])):
            continue
        found[" ".join(words)] = None
    return list(found)


def load_stories(path: Path = BBC) -> list[Story]:
    stories = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        # The dataset spells the pound sign as UTF-8 read as Latin-1, all 1,400 times.
        paragraphs = [block["text"].replace("\u00c2\u00a3", "\u00a3") for block in record["body"]]
        lead, rest = paragraphs[0], paragraphs[1:] or paragraphs
        stories.append(
            Story(
                title=record["title"].replace("\u00c2\u00a3", "\u00a3"),
                section=record["section"],
                source_id=record.get("source_id") or record["slug"],
                lead=lead,
                sentences=[s for p in rest for s in _sentences(p)],
                names=_names(" ".join(paragraphs)),
            )
        )
    return stories


def topic_names(stories: Sequence[Story], count: int) -> list[str]:
    """The `count` names the most stories mention, ties by name; numbered copies if too few.

    A lone surname or first name ("Blair", "David") mostly stands for a fuller name that is
    itself a candidate, so single words seen mostly inside longer names are left out.
    """
    frequency: Counter[str] = Counter(name for story in stories for name in story.names)
    inside: Counter[str] = Counter()
    for name, n in frequency.items():
        words = name.split()
        if len(words) > 1:
            inside[words[0]] += n
            inside[words[-1]] += n
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))
    names: list[str] = []
    slugs: set[str] = set()
    for name, n in ranked:
        if n < 3 or (" " not in name and inside[name] > n / 2) or slugify(name) in slugs:
            continue
        names.append(name)
        slugs.add(slugify(name))
    base = names or ["News"]
    result = names[:count]
    for copy in itertools.count(2):
        if len(result) >= count:
            break
        result.extend(f"{name} {copy}" for name in base[: count - len(result)])
    return result


# Names and roles ------------------------------------------------------------------------------

FIRST_NAMES = _words("""
Aaron Abigail Adam Adrian Aisha Alan Alice Amara Amir Ana Andrew Anna Arjun Ben
Bianca Carlos Caroline Chen Chloe Claire Daniel David Diana Dmitri Elena Emily Emma Erik Fatima
Felix Fiona Gabriel Grace Hannah Hassan Helen Hugo Ian Ingrid Isabel Jack James Jane Javier Joanna
John Jonathan Julia Kate Kenji Laura Leila Lena Liam Lucy Maria Mark Martin Mei Michael Mohammed
Nadia Naomi Nathan Nicola Oliver Olga Omar Patrick Paul Peter Priya Rachel Rahul Robert Rosa Ruth
Sam Sarah Simon Sofia Stefan Susan Thomas Tom Victoria William Yusuf Zoe""")

LAST_NAMES = _words("""
Adams Ahmed Alvarez Andersen Baker Banerjee Bauer Bell Bennett Brooks Campbell
Carter Chapman Clarke Collins Costa Cox Dawson Dubois Edwards Evans Fischer Fletcher Foster Garcia
Gibson Graham Grant Gupta Hall Harris Hayes Hughes Hussain Ivanova Jackson Jensen Johnson Kaur
Kelly Khan Kim Kowalski Lambert Larsen Lee Lewis Lopez Marshall Martin Mason Meyer Mitchell Moreau
Murphy Nakamura Nguyen Novak O'Brien Okafor Owen Palmer Park Patel Pearce Perez Phillips Price
Quinn Reid Reyes Richards Rossi Russell Santos Schmidt Scott Shaw Silva Singh Smith Sokolov Stewart
Sullivan Tanaka Taylor Thompson Turner Walker Wang Ward Watson Webb Wilson Wright Young
Zhang""")

TOWNS = _words("""Leeds Bristol Cardiff Glasgow Belfast York Norwich Bath Derby Hull Dundee Oxford
Brighton Swansea Exeter Inverness Lincoln Preston Wigan Stoke""")

# A person's beat decides the role they are given and the stories that mention them.
ROLES: dict[str, tuple[list[str], list[str]]] = {
    "politics": (
        [
            "Foreign Minister",
            "Prime Minister",
            "Home Secretary",
            "Shadow Chancellor",
            "MP",
            "Party Leader",
            "Mayor",
            "Health Secretary",
            "Ambassador",
            "Spokesperson",
        ],
        [
            "the Labour Party",
            "the Conservative Party",
            "the Liberal Democrats",
            "the European Commission",
            "the Foreign Office",
            "the Treasury",
            "the Electoral Commission",
            "the Scottish Parliament",
        ],
    ),
    "business": (
        [
            "Chief Executive",
            "Finance Director",
            "Chairman",
            "Chief Economist",
            "Central Bank Governor",
            "Analyst",
            "Founder",
            "Union Leader",
        ],
        [
            "Harbour Energy",
            "Northgate Bank",
            "Meridian Retail",
            "Atlas Airways",
            "Crown Telecom",
            "Kestrel Motors",
            "Blackstone Mining",
            "the Bank of England",
        ],
    ),
    "sport": (
        [
            "Manager",
            "Captain",
            "Head Coach",
            "Striker",
            "Goalkeeper",
            "Fly-half",
            "Sprinter",
            "Tennis Player",
        ],
        [
            "Redbridge United",
            "Castleford Rovers",
            "the England squad",
            "the Lions",
            "Wessex Cricket Club",
            "the British Olympic team",
            "Harlow Athletic",
            "the Welsh Rugby Union",
        ],
    ),
    "entertainment": (
        [
            "Actor",
            "Film Director",
            "Singer",
            "Producer",
            "Novelist",
            "Comedian",
            "Presenter",
            "Critic",
        ],
        [
            "Silverline Pictures",
            "the National Theatre",
            "Radio Five",
            "Mosaic Records",
            "the Edinburgh Festival",
            "Lantern Studios",
            "the Royal Opera House",
            "Northern Books",
        ],
    ),
    "tech": (
        [
            "Chief Technology Officer",
            "Security Researcher",
            "Software Engineer",
            "Industry Analyst",
            "Founder",
            "Games Designer",
            "Product Manager",
            "Chief Scientist",
        ],
        [
            "Nimbus Software",
            "Quantex",
            "Pixelforge Games",
            "Brightwire Networks",
            "the Open Code Foundation",
            "Halcyon Labs",
            "Vertex Mobile",
            "Cobalt Security",
        ],
    ),
}
_GENERIC_ROLES = (["Spokesperson", "Adviser", "Campaigner", "Witness"], ["a local charity"])

HEADING_WORDS = 6


# Reader comments ------------------------------------------------------------------------------

OPENERS = [
    "Great piece.",
    "I'm not convinced.",
    "Finally someone says it.",
    "This has been coming for years.",
    "Does anyone actually believe this?",
    "Well written and fair.",
    "Same old story.",
    "Interesting read, thanks.",
    "I read this twice and still don't follow.",
    "Good to see this covered properly.",
    "Nobody in charge ever learns.",
    "Honestly, what did they expect?",
    "This is the first sensible thing I've read on it.",
    "Sad but not surprising.",
    "Am I the only one who thinks this is overblown?",
    "Worth reading to the end.",
]
MIDDLES = [
    "We saw exactly the same thing a few years ago.",
    "The numbers don't add up for me.",
    "My family has been affected by this directly.",
    "It's the people at the bottom who always pay.",
    "There's a lot more to this than the headline suggests.",
    "I'd like to hear the other side before judging.",
    "Someone should be held accountable.",
    "Credit where it's due, this is a step forward.",
    "The real question is who benefits.",
    "Local papers were reporting this months ago.",
]
CLOSERS = [
    "Let's see what happens next.",
    "Time will tell.",
    "Not holding my breath.",
    "Keep up the good work.",
    "Shameful.",
    "About time.",
    "Watch this space.",
    "",
]
REPLIES = [
    "Agreed.",
    "I disagree.",
    "Source?",
    "Exactly this.",
    "Not sure that's fair.",
    "You've clearly not read the article.",
    "Couldn't have put it better.",
    "That's not what it says.",
    "Fair point, but it cuts both ways.",
    "Ha, spot on.",
    "I used to think so too.",
    "Where do you get that from?",
]
AFTERMATH = [
    "declined to comment.",
    "was not available for comment.",
    "is expected to respond later this week.",
    "has been asked to give evidence.",
    "welcomed the decision.",
    "has criticised the plans.",
]


# Generation -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Corpus:
    """Every row to insert, table by table, in insertion order."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}


def _popularity(rng: random.Random, n: int, offset: float, exponent: float = 1.0) -> list[float]:
    """Cumulative Zipf weights, (rank + offset) ** -exponent, over a seeded ranking: a few
    favourites and a long tail. Unlike Pareto draws, the head is bounded: one unlucky draw
    cannot give a single item half of everything. A larger offset flattens the head."""
    ranks = list(range(n))
    rng.shuffle(ranks)
    return list(itertools.accumulate((rank + offset) ** -exponent for rank in ranks))


def _pick(rng: random.Random, items: Sequence[Any], cumulative: Sequence[float]) -> Any:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _unique_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct full names (distinct slugs too), none of them in `taken`."""
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(pairs)
    names: list[str] = []
    for name in itertools.chain(
        pairs,
        # Past the plain pairs, middle initials give 26 times as many.
        (
            f"{p.split()[0]} {initial}. {p.split()[1]}"
            for initial in "ABCDEFGHJKLMNPRSTW"
            for p in pairs
        ),
    ):
        if len(names) == count:
            break
        slug = slugify(name)
        if slug not in taken:
            taken.add(slug)
            names.append(name)
    if len(names) < count:
        raise ValueError(f"cannot make {count} distinct names")
    return names


def _with_article(role: str) -> str:
    """The role after "a" or "an": an actor, a chief executive, an MP (acronyms by sound)."""
    if role.isupper():
        return ("an " if role[0] in "AEFHILMNORSX" else "a ") + role
    return ("an " if role[0] in "AEIOU" else "a ") + role.lower()


class _Generator:
    def __init__(
        self,
        stories: list[Story],
        *,
        articles: int,
        topics: int,
        people: int,
        comments: int,
        seed: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.stories = stories
        self.articles, self.topics, self.people, self.comments = articles, topics, people, comments
        self.seed = seed
        self.now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.sections = sorted({story.section for story in stories})
        self.by_section = {s: [st for st in stories if st.section == s] for s in self.sections}
        self.corpus = Corpus()

    def build(self) -> Corpus:
        self._sections()
        self._authors()
        self._topics()
        self._people()
        self._articles()
        self._comments()
        return self.corpus

    def _sections(self) -> None:
        self.section_ids = {name: i for i, name in enumerate(self.sections, start=1)}
        self.corpus.rows["sections"] = [
            {"id": i, "slug": slugify(name), "name": name.replace("-", " ").title()}
            for name, i in self.section_ids.items()
        ]

    def _authors(self) -> None:
        rng = self.rng
        self.taken: set[str] = set()
        names = _unique_names(rng, AUTHORS, self.taken)
        rows = [{"id": i, "slug": slugify(n), "name": n} for i, n in enumerate(names, start=1)]
        self.corpus.rows["authors"] = rows
        # Each author covers one beat; bylines mostly come from the story's own desk.
        self.authors_by_section = {s: [] for s in self.sections}
        for row in rows:
            self.authors_by_section[rng.choice(self.sections)].append(row["id"])
        for ids in self.authors_by_section.values():
            if not ids:
                ids.append(rng.randrange(1, AUTHORS + 1))
        self.author_weights = {
            s: _popularity(rng, len(ids), 3) for s, ids in self.authors_by_section.items()
        }

    def _topics(self) -> None:
        rng = self.rng
        names = topic_names(self.stories, self.topics)
        self.topic_ids = {name: i for i, name in enumerate(names, start=1)}
        self.corpus.rows["topics"] = [
            {
                "id": i,
                "slug": slugify(name),
                "name": name,
                "description": f"News and analysis about {name}." if rng.random() < 0.6 else None,
            }
            for name, i in self.topic_ids.items()
        ]
        # A story's topics: first the ones its own text names, then its area's usual ones.
        for story in self.stories:
            story.names = [n for n in story.names if n in self.topic_ids]
        self.section_topics: dict[str, tuple[list[int], list[float]]] = {}
        for section, stories in self.by_section.items():
            counts = Counter(n for st in stories for n in st.names)
            ids = list(self.topic_ids.values())
            weights = [counts.get(name, 0) + 0.2 for name in self.topic_ids]
            self.section_topics[section] = (ids, list(itertools.accumulate(weights)))

    def _people(self) -> None:
        rng = self.rng
        names = _unique_names(rng, self.people, self.taken)
        rows = []
        self.person_role: dict[int, str] = {}
        self.person_name: dict[int, str] = {}
        self.people_by_section: dict[str, list[int]] = {s: [] for s in self.sections}
        for i, name in enumerate(names, start=1):
            section = rng.choice(self.sections)
            roles, orgs = ROLES.get(section, _GENERIC_ROLES)
            role, org = rng.choice(roles), rng.choice(orgs)
            first, *_, last = name.split()
            rows.append(
                {
                    "id": i,
                    "slug": slugify(name),
                    "name": name,
                    "aliases": [f"{first[0]}. {last}"] if rng.random() < 0.1 else [],
                    "description": f"{role}, {org}" if rng.random() < 0.8 else None,
                }
            )
            self.person_role[i], self.person_name[i] = role, name
            self.people_by_section[section].append(i)
        self.corpus.rows["people"] = rows
        self.all_people = list(range(1, self.people + 1))
        self.all_people_weights = _popularity(rng, self.people, 20)
        self.people_weights = {
            s: _popularity(rng, len(ids), 5) for s, ids in self.people_by_section.items() if ids
        }

    def _pick_people(self, section: str, k: int) -> list[int]:
        rng = self.rng
        chosen: dict[int, None] = {}
        for _ in range(k * 8):
            if len(chosen) == k:
                break
            if self.people_by_section.get(section) and rng.random() < 0.8:
                person = _pick(rng, self.people_by_section[section], self.people_weights[section])
            else:
                person = _pick(rng, self.all_people, self.all_people_weights)
            chosen[person] = None
        return list(chosen)

    def _articles(self) -> None:
        rng = self.rng
        rows, bylines, tagged, mentions, quotes = [], [], [], [], []
        self.published: list[tuple[int, datetime]] = []
        self.paragraphs: dict[int, list[str]] = {}
        titles: Counter[str] = Counter()
        # Every story serves as the lead about as often as every other, in a seeded order.
        leads = [self.stories[i % len(self.stories)] for i in range(self.articles)]
        rng.shuffle(leads)
        quote_id = 0
        for index, lead in enumerate(leads):
            article_id = index + 1
            section = lead.section
            follow = rng.choice(self.by_section[section])
            reuse = titles[lead.title]
            titles[lead.title] += 1
            title = lead.title + _suffix(reuse)

            k_people = min(rng.randint(2, 6), self.people)
            people = self._pick_people(section, k_people)
            roles: dict[int, str | None] = {}
            for person in people:
                roll = rng.random()
                if roll < 0.05:
                    roles[person] = None
                elif roll < 0.15:
                    roles[person] = rng.choice(ROLES.get(section, _GENERIC_ROLES)[0])
                else:
                    roles[person] = self.person_role[person]
            quoted = [p for p in people if rng.random() < 0.5][:3]
            suppressed = {p for p in people if rng.random() < 0.01}
            body, said = self._body(lead, follow, reuse, people, roles, quoted)
            dek = self._dek(lead, reuse)
            draft = index > 0 and rng.random() < 0.01
            if draft:
                published_at = None
                created_at = self.now - timedelta(seconds=rng.uniform(3600, 30 * 86400))
                updated_at = created_at + timedelta(minutes=rng.uniform(0, 600))
            else:
                published_at = self.now - timedelta(seconds=rng.uniform(60, DAYS * 86400))
                created_at = published_at - timedelta(minutes=rng.uniform(10, 600))
                updated_at = published_at
                if rng.random() < 0.15:
                    later = timedelta(minutes=rng.uniform(5, 3 * 1440))
                    updated_at = min(published_at + later, self.now)
                self.published.append((article_id, published_at))
            self.paragraphs[article_id] = [b["text"] for b in body if b["type"] == "paragraph"]
            digest = text_hash(title, dek, body)
            rows.append(
                {
                    "id": article_id,
                    "slug": f"{SLUG_PREFIX}{index:05d}",
                    "title": title,
                    "dek": dek,
                    "body": body,
                    "section_id": self.section_ids[section],
                    "status": ArticleStatus.DRAFT if draft else ArticleStatus.PUBLISHED,
                    "language": "en",
                    # The seed on every row: a later run can tell this corpus from another one.
                    "source": f"{SOURCE}/{self.seed}",
                    "source_id": lead.source_id,
                    "published_at": published_at,
                    "created_at": created_at,
                    "updated_at": updated_at,
                    "import_hash": None,
                    "content_hash": digest,
                    "people_hash": digest,
                    "people_error": None,
                    "people_attempts": 0,
                    "people_retry_at": None,
                    "deleted_at": None,
                    "comments_closed": False,
                }
            )

            n_authors = 1 if rng.random() < 0.8 else 2
            authors: dict[int, None] = {}
            for _ in range(n_authors * 4):
                if len(authors) == n_authors:
                    break
                if rng.random() < 0.85:
                    ids = self.authors_by_section[section]
                    authors[_pick(rng, ids, self.author_weights[section])] = None
                else:
                    authors[rng.randrange(1, AUTHORS + 1)] = None
            bylines.extend(
                {"article_id": article_id, "author_id": a, "position": pos}
                for pos, a in enumerate(authors)
            )

            tagged.extend(
                {"article_id": article_id, "topic_id": t, "position": pos}
                for pos, t in enumerate(self._pick_topics(lead, follow))
            )

            for position, person in enumerate(people):
                mentions.append(
                    {
                        "article_id": article_id,
                        "person_id": person,
                        "role": roles[person],
                        "mention_count": rng.randint(1, 3) + (2 if person in said else 0),
                        "position": position,
                        "pinned": rng.random() < 0.02,
                        "suppressed": person in suppressed,
                    }
                )
            # Removing a person from a story removes their quotes from it too (models.mentions).
            for position, (person, text) in enumerate(said.items()):
                if person in suppressed:
                    continue
                quote_id += 1
                quotes.append(
                    {
                        "id": quote_id,
                        "article_id": article_id,
                        "person_id": person,
                        "text": text,
                        "position": position,
                    }
                )
        self.corpus.rows.update(
            articles=rows,
            article_authors=bylines,
            article_topics=tagged,
            mentions=mentions,
            quotes=quotes,
        )

    def _pick_topics(self, lead: Story, follow: Story) -> list[int]:
        rng = self.rng
        wanted = min(rng.randint(3, 5), self.topics)
        own = list(dict.fromkeys(lead.names[:6] + follow.names[:2]))
        chosen = dict.fromkeys(self.topic_ids[n] for n in own[: max(1, wanted - 1)])
        ids, cumulative = self.section_topics[lead.section]
        for _ in range(wanted * 10):
            if len(chosen) >= wanted:
                break
            chosen[_pick(rng, ids, cumulative)] = None
        return list(chosen)[:wanted]

    def _dek(self, lead: Story, reuse: int) -> str | None:
        """The BBC intro for the first story on a lead; a sentence of it for the follow-ups."""
        rng = self.rng
        if rng.random() < 0.03:
            return None
        if reuse:
            fits = [s for s in lead.sentences if len(s) <= 300]
            if fits:
                return rng.choice(fits)
        return lead.lead if len(lead.lead) <= 300 else _sentences(lead.lead)[0]

    def _body(
        self,
        lead: Story,
        follow: Story,
        reuse: int,
        people: list[int],
        roles: dict[int, str | None],
        quoted: list[int],
    ) -> tuple[list[dict[str, str]], dict[int, str]]:
        """6 to 12 blocks: about half from the lead story, the rest from the follow-up story
        under its title as a heading, the quoted people's words in between.

        A lead serves several stories at 10,000 of them; the follow-ups take a different stretch
        of it and a different second half, so that they read as related, not as copies.
        """
        rng = self.rng
        pool = self.by_section[lead.section]
        blocks = rng.randint(6, 12)
        headings = rng.choices([0, 1, 2], weights=[50, 35, 15])[0] if blocks >= 7 else 0
        n_paragraphs = max(4, blocks - headings - len(quoted))
        n_lead = min(n_paragraphs - 1, max(2, round(n_paragraphs * rng.uniform(0.4, 0.7))))
        start = rng.randrange(max(1, len(lead.sentences) - 2 * n_lead)) if reuse else 0
        backfill = (s for _ in itertools.count() for s in rng.choice(pool).sentences)
        lead_sentences = itertools.chain(lead.sentences[start:], follow.sentences, backfill)
        follow_sentences = itertools.chain(follow.sentences, backfill)
        paragraphs = []
        for i in range(n_paragraphs):
            source = lead_sentences if i < n_lead else follow_sentences
            size = rng.choices([1, 2, 3], weights=[3, 4, 2])[0]
            paragraphs.append(" ".join(itertools.islice(source, size)))
        # Everyone mentioned is named in the text; the quoted ones say something.
        said: dict[int, str] = {}
        boundary = n_lead
        for person in quoted:
            words = self._quotable(pool)
            said[person] = words
            role = roles[person]
            who = f"{self.person_name[person]}, {_with_article(role)}" if role else None
            line = f'"{words}," said {who or self.person_name[person]}.'
            at = rng.randint(1, len(paragraphs))
            paragraphs.insert(at, line)
            boundary += at <= boundary
        for person in people:
            if person not in said:
                at = rng.randrange(1, len(paragraphs))
                paragraphs[at] += f" {self.person_name[person]} {rng.choice(AFTERMATH)}"
        body = [{"type": BlockType.PARAGRAPH.value, "text": p} for p in paragraphs]
        if headings:
            if headings > 1:
                slots = [i for i in range(2, len(body) - 1) if abs(i - boundary) > 1]
                if slots:
                    at = rng.choice(slots)
                    body.insert(at, {"type": BlockType.HEADING.value, "text": self._heading(pool)})
                    boundary += at <= boundary
            body.insert(boundary, {"type": BlockType.HEADING.value, "text": follow.title})
        return body, said

    def _quotable(self, pool: list[Story]) -> str:
        """A sentence fit to be quoted: no quotes of its own, neither too short nor too long."""
        for _ in range(20):
            sentence = self.rng.choice(self.rng.choice(pool).sentences)
            if 40 <= len(sentence) <= 220 and not re.search('["\u201c\u201d]', sentence):
                return sentence.rstrip(".")
        return sentence.rstrip(".")

    def _heading(self, pool: list[Story]) -> str:
        """Short BBC titles of the same area read like the subheadings of a story."""
        for _ in range(20):
            title = self.rng.choice(pool).title
            if len(title.split()) <= HEADING_WORDS:
                return title
        return " ".join(title.split()[:HEADING_WORDS])

    def _comments(self) -> None:
        rng = self.rng
        rows: list[dict[str, Any]] = []
        if not self.published or not self.comments:
            self.corpus.rows["comments"] = rows
            return
        readers = [
            _handle(rng, first, last)
            for first, last in (
                (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for _ in range(READERS)
            )
        ]
        reader_weights = _popularity(rng, READERS, 10)
        # Most stories get a handful, a few get thousands (with the defaults: median about 4,
        # the busiest about 3,000).
        article_weights = _popularity(rng, len(self.published), 20, 1.2)
        per_article = Counter(
            bisect.bisect(article_weights, rng.random() * article_weights[-1])
            for _ in range(self.comments)
        )
        comment_id = 0
        for position in sorted(per_article):
            article_id, published_at = self.published[position]
            room = (self.now - published_at).total_seconds()
            paragraphs = self.paragraphs[article_id]
            threads: list[tuple[int, datetime]] = []
            for _ in range(per_article[position]):
                comment_id += 1
                if not threads or rng.random() < 0.7:
                    parent_id = None
                    created_at = published_at + timedelta(seconds=_delay(rng, 6 * 3600, room))
                    threads.append((comment_id, created_at))
                    body = _comment(rng, paragraphs)
                else:
                    parent_id, parent_at = rng.choice(threads)
                    left = (self.now - parent_at).total_seconds()
                    created_at = parent_at + timedelta(seconds=_delay(rng, 3600, left))
                    body = _reply(rng)
                author = _pick(rng, readers, reader_weights) if rng.random() < 0.93 else None
                pending = rng.random() < 0.03
                rows.append(
                    {
                        "id": comment_id,
                        "article_id": article_id,
                        "parent_id": parent_id,
                        "author_name": author,
                        "body": body,
                        "is_spoiler": rng.random() < 0.1,
                        "status": CommentStatus.PENDING if pending else CommentStatus.PUBLISHED,
                        "created_at": created_at,
                        "external_id": None,
                    }
                )
        self.corpus.rows["comments"] = rows


_SUFFIXES = [
    "",
    ": what we know",
    " - latest",
    ": analysis",
    " - live updates",
    ": the reaction",
    " - explained",
    ": a year on",
    " - in pictures",
]


def _suffix(used: int) -> str:
    """Keeps titles unique: a story that leads again reads as a follow-up."""
    if used < len(_SUFFIXES):
        return _SUFFIXES[used]
    return f" (part {used - len(_SUFFIXES) + 2})"


def _delay(rng: random.Random, mean: float, room: float) -> float:
    """Seconds after an event: usually soon after, never later than now."""
    delay = rng.expovariate(1 / mean)
    return delay if delay < room else rng.random() * room


def _handle(rng: random.Random, first: str, last: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"{first}{last[0]}"
    if style == 1:
        return f"{first.lower()}_{rng.randint(1, 99)}"
    if style == 2:
        return f"{first} {last}"
    return f"{first} from {rng.choice(TOWNS)}"


def _comment(rng: random.Random, paragraphs: list[str]) -> str:
    parts = [rng.choice(OPENERS)]
    if rng.random() < 0.3 and paragraphs:
        words = rng.choice(paragraphs).lstrip("\"'\u201c\u2018").split()[:9]
        parts.append(f'"{" ".join(words).rstrip(",.;:")}..." really?')
    if rng.random() < 0.6:
        parts.append(rng.choice(MIDDLES))
    parts.append(rng.choice(CLOSERS))
    return " ".join(p for p in parts if p)


def _reply(rng: random.Random) -> str:
    parts = [rng.choice(REPLIES)]
    if rng.random() < 0.5:
        parts.append(rng.choice(MIDDLES))
    return " ".join(parts)


# Writing --------------------------------------------------------------------------------------


async def _counts(conn: AsyncConnection) -> dict[str, int]:
    counts = {}
    for name, table in COUNTED.items():
        stmt = sa.select(sa.func.count()).select_from(table)
        counts[name] = (await conn.execute(stmt)).scalar_one()
    return counts


async def _existing(
    conn: AsyncConnection, *, articles: int, topics: int, people: int, comments: int, seed: int
) -> dict[str, int] | None:
    """The counts of this very corpus if the database holds it, None if the database is empty;
    anything else is an error, since writing would mix two data sets."""
    if not await conn.run_sync(lambda sync: sa.inspect(sync).has_table("comments")):
        raise CorpusError("the database has no schema: migrate it first (newsroom db upgrade)")
    counts = await _counts(conn)
    if not any(counts.values()):
        return None
    marker = await conn.scalar(
        sa.select(Article.source).where(Article.slug == f"{SLUG_PREFIX}{articles - 1:05d}")
    )
    expected = {"articles": articles, "topics": topics, "people": people, "comments": comments}
    if marker == f"{SOURCE}/{seed}" and all(counts[k] == v for k, v in expected.items()):
        return counts
    found = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    raise CorpusError(
        f"the database already holds {found}, not a corpus of {articles} articles, "
        f"{topics} topics, {people} people and {comments} comments with seed {seed}: "
        "give an empty, migrated database"
    )


async def _write(conn: AsyncConnection, corpus: Corpus) -> None:
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks = {
            name: progress.add_task(name, total=len(rows), start=False)
            for name, rows in corpus.rows.items()
        }
        for table in TABLES:
            rows = corpus.rows[table.name]
            progress.start_task(tasks[table.name])
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                await conn.execute(sa.insert(table), chunk)
                progress.advance(tasks[table.name], len(chunk))
    if conn.dialect.name == "postgresql":
        # Ids were given explicitly, so the sequences never moved: the app's next insert would
        # collide with row 1.
        for table in TABLES:
            if "id" in table.c:
                await conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce(max(id), 0) + 1, false) FROM {table.name}"
                    )
                )


async def generate(
    engine: AsyncEngine,
    *,
    articles: int = 10_000,
    topics: int = 200,
    people: int = 2_000,
    comments: int = 200_000,
    seed: int = 20261125,
) -> dict[str, int]:
    """Fill an empty, migrated database with the corpus; answer the rows per table.

    Running it again with the same parameters finds the corpus and writes nothing. Everything
    is written in one transaction, so a failed run leaves the database empty.
    """
    if articles < 1 or min(topics, people) < 1 or comments < 0:
        raise ValueError("need at least one article, topic and person, and no negative counts")
    params = {"articles": articles, "topics": topics, "people": people, "comments": comments}
    async with engine.begin() as conn:
        found = await _existing(conn, seed=seed, **params)
        if found is not None:
            return found
        corpus = _Generator(load_stories(), seed=seed, **params).build()
        await _write(conn, corpus)
    if engine.dialect.name == "postgresql":
        # Fresh tables have no statistics yet: without them the planner guessed 29 published
        # stories out of 9,888 and hashed whole tables. Autovacuum would catch up, too late.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("ANALYZE"))
    return corpus.counts()


async def _main(args: argparse.Namespace) -> dict[str, int]:
    engine = create_engine(args.database_url)
    try:
        await migrate.upgrade(engine)
        return await generate(
            engine,
            articles=args.articles,
            topics=args.topics,
            people=args.people,
            comments=args.comments,
            seed=args.seed,
        )
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.corpus",
        description="Migrate a database to the latest schema and fill it with the benchmark "
        "corpus (nothing is written if it holds that corpus already).",
    )
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of the database")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        counts = asyncio.run(_main(args))
    except CorpusError as exc:
        sys.exit(f"error: {exc}")
    elapsed = time.perf_counter() - started
    print(", ".join(f"{n:,} {name}" for name, n in counts.items()) + f" ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
