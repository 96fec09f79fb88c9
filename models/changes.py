"""What a transaction changed that readers can see, noted for whoever caches what readers read.

Every write in `models` goes through the ORM unit of work, and every change to a story also adds
a search outbox row in the same transaction (the few Core statements that bypass the unit of work
always come with one). So a single listener on flush sees every change, and no writer has to
remember to announce its own. The caller takes the notes after the commit.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from models.article import Article, ArticleTopic, Section
from models.comment import Comment
from models.outbox import OutboxEntry
from models.person import Mention, Person
from models.topic import Topic

Kind = Literal["article", "topic", "person", "section", "comments"]
Change = tuple[Kind, int]

_NOTES = "newsroom.changes"

# Which attribute names the thing a reader would see change, by mapped class.
_WATCHED: dict[type[Any], tuple[Kind, str]] = {
    Article: ("article", "id"),
    OutboxEntry: ("article", "article_id"),
    ArticleTopic: ("article", "article_id"),
    Mention: ("article", "article_id"),
    Topic: ("topic", "id"),
    Person: ("person", "id"),
    Section: ("section", "id"),
    Comment: ("comments", "article_id"),
}


@event.listens_for(Session, "after_flush")
def _note(session: Session, _flush_context: Any) -> None:
    notes: set[Change] = session.info.setdefault(_NOTES, set())
    for obj in chain(session.new, session.dirty, session.deleted):
        watched = _WATCHED.get(type(obj))
        if watched is not None:
            notes.add((watched[0], getattr(obj, watched[1])))


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_NOTES, None)


def take(session: AsyncSession | Session) -> set[Change]:
    """The changes committed through `session` since the last call."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    notes: set[Change] = sync.info.pop(_NOTES, set())
    return notes
