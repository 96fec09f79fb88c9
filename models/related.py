"""Related stories computed ahead: the stored lists, each story's state in the job, and the reads
over them (the lists readers see, and the corpus the job ranks with). The queue of changed
stories and its claims are models/related_queue.py; storing what the job computed is
models/related_store.py; the ranking is models/similarity.py; the loop that runs the job is
models/related_job.py.

A story's list is computed when the story is published or changed, again when another story
would now enter it or leave it, and at least once a day (the sweep). Readers read it in one
indexed lookup, joined with what is published now: a story unpublished a moment ago is gone
from every list at once, before any job runs, and a spare from the end of the list takes its
place until the list is computed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from models.article import SUMMARY_COLUMNS, Article, is_published
from models.base import AnyRow, Base, utcnow
from models.lookup import grouped

# The outbox's priorities (models/outbox.py): an editor's publish goes before an import.
EDITORIAL, BULK = 0, 2


class RelatedArticle(Base):
    """One entry of a story's list: `rank` 0 is shown first."""

    __tablename__ = "related_articles"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    # Indexed: the lists a story is in are the ones to compute again when it changes.
    related_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    # Symmetric (models/similarity.py): a changed story enters a list when it scores more
    # than the list's lowest.
    score: Mapped[float] = mapped_column(sa.Float)


class RelatedChange(Base):
    """A story changed: written in the transaction of the change, with its search outbox row."""

    __tablename__ = "related_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key, as in the outbox: the row must not stop a story being deleted.
    article_id: Mapped[int]
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=EDITORIAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RelatedState(Base):
    """Where a story's list is in the job: when it is due, who holds it, what it was made from."""

    __tablename__ = "related_state"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    # The story's fingerprint (similarity.Story.fingerprint) when its list was last computed;
    # a different one means the story changed, and the lists around it are checked too.
    input_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # The list is computed once this has passed; the sweep keeps it at most a day ahead.
    due_at: Mapped[datetime] = mapped_column(index=True)
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=BULK, server_default="2")
    # Bumped by every reason to compute the list again: a store keeps the story due when a
    # reason came while it was computing.
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    # When a change to the story itself was last seen, and when the corpus its own list was
    # ranked with was read: a list ranked after a change was seen already knows of it.
    noticed_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    computed_at: Mapped[datetime | None]
    # When the stories of the list last changed: caches of other processes look here.
    listed_at: Mapped[datetime | None] = mapped_column(index=True)
    # The lease of the process computing the list now; past it, any process may take it.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)


# Stored per story: the most the API serves (20), and spares that stand in for stories
# unpublished since the list was computed, until the job computes it again.
LIST_SIZE = 24
# A list is computed again at least this often: the corpus around it moves (new stories change
# every word's weight), and a change no job heard of (a direct SQL edit) is caught.
SWEEP = timedelta(hours=24)
# Clocks of two machines may disagree this much (see `related_store.fan_out_targets`).
CLOCK_MARGIN = timedelta(seconds=5)


# Reading ---------------------------------------------------------------------------------------


async def related_by_article(
    conn: AsyncConnection, article_ids: Sequence[int], limit: int
) -> dict[int, list[AnyRow]]:
    """Each story's related stories that are published now, best first, at most `limit`."""
    ranked = (
        sa.select(
            RelatedArticle.article_id.label("list_id"),
            *SUMMARY_COLUMNS,
            sa.func.row_number()
            .over(partition_by=RelatedArticle.article_id, order_by=RelatedArticle.rank)
            .label("n"),
        )
        .join(Article, Article.id == RelatedArticle.related_id)
        .where(RelatedArticle.article_id.in_(article_ids), is_published())
        .subquery()
    )
    rows = await conn.execute(
        sa.select(ranked).where(ranked.c.n <= limit).order_by(ranked.c.list_id, ranked.c.n)
    )
    return grouped(rows, article_ids, "list_id")


async def lists_changed_since(conn: AsyncConnection, since: datetime) -> list[tuple[int, datetime]]:
    """(story, when) for the lists whose stories changed since `since`."""
    rows = await conn.execute(
        sa.select(RelatedState.article_id, RelatedState.listed_at).where(
            RelatedState.listed_at > since
        )
    )
    return [(row.article_id, row.listed_at) for row in rows]


# The corpus the job ranks with -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listed:
    """A story as the job's corpus sees it."""

    article_id: int
    published: bool
    input_hash: str | None
    noticed_at: datetime | None


async def stories_to_sync(
    conn: AsyncConnection, since: datetime | None, also: Sequence[int] = ()
) -> dict[int, Listed]:
    """With `since` None, every published story, with what the job last stored about it.
    Otherwise only the stories whose changes were seen since then, and those of `also`,
    published or not: every publish, unpublish and edit is seen (`related_queue.take_changes`)."""
    published = is_published().label("published")
    stmt = sa.select(Article.id, published, RelatedState.input_hash, RelatedState.noticed_at)
    if since is None:
        stmt = stmt.outerjoin(RelatedState, RelatedState.article_id == Article.id).where(
            is_published()
        )
    else:
        stmt = stmt.join(RelatedState, RelatedState.article_id == Article.id).where(
            sa.or_(RelatedState.noticed_at > since, Article.id.in_(list(also)))
        )
    rows = await conn.execute(stmt)
    return {
        row.id: Listed(row.id, bool(row.published), row.input_hash, row.noticed_at) for row in rows
    }
