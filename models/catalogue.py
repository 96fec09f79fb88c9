"""Editors' writes to what stories are filed under and about: sections, topics and people
(names, aliases, merges). As in models/editing.py, each runs inside the caller's transaction with
its search outbox rows, and bad input raises InvalidInput naming the field."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from slugify import slugify
from sqlalchemy.ext.asyncio import AsyncSession

from models.article import Section
from models.errors import InvalidInput, NotFoundError
from models.outbox import enqueue_articles, enqueue_articles_of_person, enqueue_articles_of_topic
from models.person import Mention, Person
from models.topic import Topic


def _name(value: str, field_name: str) -> str:
    name = value.strip()
    if not name or len(name) > 200 or not slugify(name):
        raise InvalidInput(field_name, "a name of 1 to 200 characters with letters or digits")
    return name


async def create_section(session: AsyncSession, name: str) -> Section:
    name = _name(name, "name")
    slug = slugify(name)
    if await session.scalar(sa.select(Section.id).where(Section.slug == slug)) is not None:
        raise InvalidInput("name", f"a section {slug!r} exists")
    section = Section(slug=slug, name=name)
    session.add(section)
    await session.flush()
    return section


async def create_topic(session: AsyncSession, name: str, description: str | None) -> Topic:
    name = _name(name, "name")
    slug = slugify(name)
    if await session.scalar(sa.select(Topic.id).where(Topic.slug == slug)) is not None:
        raise InvalidInput("name", f"a topic {slug!r} exists")
    topic = Topic(slug=slug, name=name, description=description)
    session.add(topic)
    await session.flush()
    return topic


async def rename_topic(session: AsyncSession, slug: str, name: str) -> Topic:
    """A new display name; the slug (and every link to the topic) stays."""
    topic = await session.scalar(sa.select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise NotFoundError(slug)
    topic.name = _name(name, "name")
    await enqueue_articles_of_topic(session, topic.id)
    return topic


async def create_person(
    session: AsyncSession, name: str, aliases: Sequence[str], description: str | None
) -> Person:
    name = _name(name, "name")
    slug = slugify(name)
    if await session.scalar(sa.select(Person.id).where(Person.slug == slug)) is not None:
        raise InvalidInput("name", f"a person {slug!r} exists")
    person = Person(
        slug=slug,
        name=name,
        aliases=list(dict.fromkeys(_name(a, "aliases") for a in aliases)),
        description=description,
    )
    session.add(person)
    await session.flush()
    return person


async def _person(session: AsyncSession, slug: str) -> Person:
    person = await session.scalar(sa.select(Person).where(Person.slug == slug).with_for_update())
    if person is None:
        raise NotFoundError(slug)
    return person


async def rename_person(session: AsyncSession, slug: str, name: str) -> Person:
    """A new display name; the old one stays findable as an alias."""
    person = await _person(session, slug)
    new_name = _name(name, "name")
    if new_name != person.name:
        person.aliases = list(dict.fromkeys([*person.aliases, person.name]))
        person.name = new_name
    await enqueue_articles_of_person(session, person.id)
    return person


async def add_person_alias(session: AsyncSession, slug: str, alias: str) -> Person:
    person = await _person(session, slug)
    person.aliases = list(dict.fromkeys([*person.aliases, _name(alias, "alias")]))
    await enqueue_articles_of_person(session, person.id)
    return person


async def merge_people(session: AsyncSession, source_slug: str, target_slug: str) -> Person:
    """Fold `source` into `target`: its mentions, names and aliases move; `source` is gone."""
    if source_slug == target_slug:
        raise InvalidInput("from", "a person cannot be merged into themselves")
    source = await _person(session, source_slug)
    target = await _person(session, target_slug)
    mentions = list(await session.scalars(sa.select(Mention).where(Mention.person_id == source.id)))
    existing = {
        m.article_id: m
        for m in await session.scalars(sa.select(Mention).where(Mention.person_id == target.id))
    }
    affected = [m.article_id for m in mentions]
    for mention in mentions:
        kept = existing.get(mention.article_id)
        if kept is not None:
            kept.mention_count += mention.mention_count
            kept.role = kept.role or mention.role
            await session.delete(mention)
        else:
            mention.person_id = target.id
    await session.flush()
    target.aliases = list(
        dict.fromkeys(
            a for a in [*target.aliases, source.name, *source.aliases] if a != target.name
        )
    )
    await session.delete(source)
    enqueue_articles(session, affected)
    await enqueue_articles_of_person(session, target.id)
    return target
