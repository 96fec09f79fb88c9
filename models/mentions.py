"""People mentioned in stories: linking what extraction found to Person rows, storing mentions
and quotes, editors' pins and removals, and each person's quotes for readers. The background
extraction queue is models/people_queue.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from slugify import slugify
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.article import Article, is_published
from models.base import AnyRow
from models.extraction import ExtractedPerson, Extraction
from models.lookup import grouped
from models.outbox import Priority, enqueue_articles
from models.person import Mention, Person, Quote


async def link_person(session: AsyncSession, found: ExtractedPerson) -> Person:
    """The one Person this name means: by name or alias; a surname alone only when exactly one
    known person has it; else a new Person with a stable slug (`dmitry-peskov`)."""
    name = found.name
    lowered = name.lower()
    person = await session.scalar(sa.select(Person).where(sa.func.lower(Person.name) == lowered))
    if person is not None:
        return person
    slug = slugify(name)
    person = await session.scalar(sa.select(Person).where(Person.slug == slug))
    if person is not None:
        return person
    # Aliases are few per person; scanning the candidates that could carry this one is cheap.
    last = name.split()[-1].lower()
    candidates = list(
        await session.scalars(
            sa.select(Person).where(sa.func.lower(Person.name).contains(last, autoescape=True))
        )
    )
    by_alias = [p for p in candidates if lowered in (a.lower() for a in p.aliases)]
    if len(by_alias) == 1:
        return by_alias[0]
    if " " not in name:
        by_surname = [p for p in candidates if p.name.split()[-1].lower() == lowered]
        if len(by_surname) == 1:
            return by_surname[0]
    return await _create_person(session, slug, name)


# Any constant of our own: PostgreSQL's advisory locks are named by numbers, per database.
_CREATING_PEOPLE = 7_203_517_001


async def _create_person(session: AsyncSession, slug: str, name: str) -> Person:
    """A new Person, or the one another process created with this slug a moment before."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Two stories finding the same two new people in opposite orders would each wait for the
        # other's uncommitted row: stores that create people take turns, until their commit.
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CREATING_PEOPLE)))
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(Person)
        .values(slug=slug, name=name, aliases=[])
        .on_conflict_do_nothing(index_elements=[Person.slug])
    )
    return (await session.scalars(sa.select(Person).where(Person.slug == slug))).one()


async def apply_extraction(session: AsyncSession, article_id: int, found: Extraction) -> None:
    """Replace the story's extracted mentions and quotes; editors' pins and removals stay."""
    existing = {
        m.person_id: m
        for m in await session.scalars(sa.select(Mention).where(Mention.article_id == article_id))
    }
    linked: dict[str, Person] = {}
    written: dict[int, Mention] = {}
    for position, extracted in enumerate(found.people):
        person = await link_person(session, extracted)
        linked[extracted.name] = person
        if person.id in written:
            # Two names of the story turned out to be one known person.
            written[person.id].mention_count += extracted.mentions
            continue
        mention = existing.pop(person.id, None)
        if mention is not None and mention.suppressed:
            continue
        if mention is None:
            mention = Mention(article_id=article_id, person_id=person.id)
            session.add(mention)
        if not (mention.pinned and mention.role):
            mention.role = extracted.role
        mention.mention_count = extracted.mentions
        mention.position = position
        written[person.id] = mention
    for mention in existing.values():
        if not (mention.pinned or mention.suppressed):
            await session.delete(mention)
    suppressed = {
        m.person_id
        for m in await session.scalars(
            sa.select(Mention).where(Mention.article_id == article_id, Mention.suppressed)
        )
    }
    await session.execute(sa.delete(Quote).where(Quote.article_id == article_id))
    for position, quote in enumerate(found.quotes):
        speaker = linked.get(quote.speaker)
        if speaker is not None and speaker.id not in suppressed:
            session.add(
                Quote(
                    article_id=article_id, person_id=speaker.id, text=quote.text, position=position
                )
            )
    # Extraction runs over whole archives (after a model update, say): it must not delay an
    # editor's publish in search. Editors' pins and removals below stay editorial.
    enqueue_articles(session, [article_id], Priority.BULK)


async def _editors_mention(session: AsyncSession, article_id: int, person_id: int) -> Mention:
    """The story's mention of the person, made for the editor's decision if there is none."""
    mention = await session.get(Mention, (article_id, person_id))
    if mention is None:
        mention = Mention(article_id=article_id, person_id=person_id, mention_count=0)
        session.add(mention)
    return mention


async def pin_person(
    session: AsyncSession, article_id: int, person_id: int, role: str | None
) -> Mention:
    mention = await _editors_mention(session, article_id, person_id)
    mention.pinned, mention.suppressed = True, False
    if role is not None:
        mention.role = role.strip() or None
    enqueue_articles(session, [article_id])
    return mention


async def remove_person(session: AsyncSession, article_id: int, person_id: int) -> None:
    mention = await _editors_mention(session, article_id, person_id)
    mention.pinned, mention.suppressed = False, True
    await session.execute(
        sa.delete(Quote).where(Quote.article_id == article_id, Quote.person_id == person_id)
    )
    enqueue_articles(session, [article_id])


async def quotes_by_person(
    conn: Any, person_ids: Sequence[int], first: int
) -> dict[int, list[AnyRow]]:
    """Each person's quotes from published stories, newest story first."""
    ranked = (
        sa.select(
            Quote.person_id,
            Quote.text,
            Quote.article_id,
            sa.func.row_number()
            .over(
                partition_by=Quote.person_id,
                order_by=[Article.published_at.desc(), Quote.article_id.desc(), Quote.position],
            )
            .label("n"),
        )
        .join(Article, Article.id == Quote.article_id)
        .join(
            Mention,
            sa.and_(Mention.article_id == Quote.article_id, Mention.person_id == Quote.person_id),
        )
        .where(Quote.person_id.in_(person_ids), is_published(), Mention.suppressed.is_(False))
        .subquery()
    )
    rows = await conn.execute(
        sa.select(ranked).where(ranked.c.n <= first).order_by(ranked.c.person_id, ranked.c.n)
    )
    return grouped(rows, person_ids, "person_id")
