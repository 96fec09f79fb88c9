"""Related stories computed ahead: the stored lists and the read over them, and the job's SQL
(the queue of changed stories, each story's state, claims, stores). The ranking is
models/similarity.py; the loop that runs the job is models/related_job.py.

A story's list is computed when the story is published or changed, again when another story
would now enter it or leave it, and at least once a day (the sweep). Readers read it in one
indexed lookup, joined with what is published now: a story unpublished a moment ago is gone
from every list at once, before any job runs, and a spare from the end of the list takes its
place until the list is computed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.article import SUMMARY_COLUMNS, Article, is_published
from models.base import Base, utcnow

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
# Long enough for a batch on two busy cores (about a second); a dead process's stories wait
# this long.
CLAIM_LEASE = timedelta(minutes=5)
MAX_RETRY = timedelta(hours=1)
# Clocks of two machines may disagree this much (see `fan_out_targets`).
CLOCK_MARGIN = timedelta(seconds=5)
# Writes to related_state other than claims take turns on PostgreSQL on this advisory lock, so
# two of them marking the same stories in different orders never deadlock. SQLite has one
# writer anyway.
_WRITE_LOCK = 7_203_517_101


# Reading ---------------------------------------------------------------------------------------


async def related_by_article(
    conn: AsyncConnection, article_ids: Sequence[int], limit: int
) -> dict[int, list[sa.Row[Any]]]:
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
    grouped: dict[int, list[sa.Row[Any]]] = {article_id: [] for article_id in article_ids}
    for row in rows:
        grouped[row.list_id].append(row)
    return grouped


async def lists_changed_since(conn: AsyncConnection, since: datetime) -> list[tuple[int, datetime]]:
    """(story, when) for the lists whose stories changed since `since`."""
    rows = await conn.execute(
        sa.select(RelatedState.article_id, RelatedState.listed_at).where(
            RelatedState.listed_at > since
        )
    )
    return [(row.article_id, row.listed_at) for row in rows]


# Noting changes --------------------------------------------------------------------------------


def note_changes(session: AsyncSession, article_ids: Iterable[int], priority: int) -> None:
    """Inside the caller's transaction: these stories changed in a way related lists read."""
    now = utcnow()
    session.add_all(
        RelatedChange(article_id=article_id, priority=min(priority, BULK), created_at=now)
        for article_id in dict.fromkeys(article_ids)
    )


async def _take_turn(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITE_LOCK)))
    else:
        # A write first: SQLite then holds its write lock until the commit.
        await conn.execute(
            sa.update(RelatedState).where(RelatedState.article_id == -1).values(attempts=0)
        )


async def _mark_due(
    conn: AsyncConnection, due: Mapping[int, int], *, noticed: datetime | None = None
) -> None:
    """Make these stories' lists due now, each with the given priority (or a more urgent one it
    has already); `noticed` records that the stories themselves changed."""
    if not due:
        return
    now = utcnow()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    earlier = sa.func.least if conn.dialect.name == "postgresql" else sa.func.min
    for start in range(0, len(due), 500):
        # In id order, so that any two statements lock rows in the same order.
        chunk = sorted(due.items())[start : start + 500]
        stmt = insert(RelatedState).values(
            [
                {"article_id": i, "due_at": now, "priority": p, "version": 1, "noticed_at": noticed}
                for i, p in chunk
            ]
        )
        values: dict[str, Any] = {
            "due_at": earlier(RelatedState.due_at, stmt.excluded.due_at),
            "priority": sa.case(
                (
                    RelatedState.due_at <= now,
                    earlier(RelatedState.priority, stmt.excluded.priority),
                ),
                else_=stmt.excluded.priority,
            ),
            "version": RelatedState.version + 1,
        }
        if noticed is not None:
            values["noticed_at"] = stmt.excluded.noticed_at
        await conn.execute(stmt.on_conflict_do_update(index_elements=["article_id"], set_=values))


async def take_changes(engine: AsyncEngine, limit: int = 5_000) -> int:
    """Move noted changes onto the stories' state: due now, changed now. Answers how many."""
    async with engine.begin() as conn:
        # An idle worker looks every second: only a read, which takes no lock.
        if not await conn.scalar(sa.select(sa.select(RelatedChange.id).exists())):
            return 0
        await _take_turn(conn)
        rows = list(
            await conn.execute(
                sa.select(RelatedChange.id, RelatedChange.article_id, RelatedChange.priority)
                .order_by(RelatedChange.id)
                .limit(limit)
            )
        )
        due: dict[int, int] = {}
        for row in rows:
            due[row.article_id] = min(due.get(row.article_id, BULK), row.priority)
        # Only stories that still exist: a change row has no foreign key.
        existing = set(
            (await conn.execute(sa.select(Article.id).where(Article.id.in_(list(due))))).scalars()
        )
        await _mark_due(conn, {i: p for i, p in due.items() if i in existing}, noticed=utcnow())
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 500):
            await conn.execute(
                sa.delete(RelatedChange).where(RelatedChange.id.in_(ids[start : start + 500]))
            )
        return len(rows)


async def mark_unlisted(engine: AsyncEngine) -> int:
    """Published stories the job has never seen (older than the job, or written without a
    change row, as the benchmark corpus is): due now. Answers how many."""
    missing = sa.select(Article.id).where(
        is_published(),
        ~sa.select(RelatedState.article_id)
        .where(RelatedState.article_id == Article.id)
        .correlate(Article)
        .exists(),
    )
    async with engine.begin() as conn:
        ids = list((await conn.execute(missing.limit(1))).scalars())
        if not ids:
            return 0
        await _take_turn(conn)
        ids = list((await conn.execute(missing)).scalars())
        await _mark_due(conn, dict.fromkeys(ids, BULK), noticed=utcnow())
        return len(ids)


async def request_full_pass(engine: AsyncEngine) -> int:
    """`related refresh --all`: every list due now (those due already stay as they are)."""
    await mark_unlisted(engine)
    async with engine.begin() as conn:
        await _take_turn(conn)
        result = await conn.execute(
            sa.update(RelatedState)
            .where(RelatedState.due_at > utcnow())
            .values(due_at=utcnow(), version=RelatedState.version + 1)
        )
        return result.rowcount


async def count_due(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        stmt = sa.select(sa.func.count()).where(RelatedState.due_at <= utcnow())
        return (await conn.execute(stmt)).scalar_one()


# Claims ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    article_id: int
    version: int
    priority: int
    input_hash: str | None
    noticed_at: datetime | None
    due_at: datetime
    lease: datetime

    def held(self) -> sa.ColumnElement[bool]:
        """Still this process's: a claim taken over after its lease ended has another lease."""
        return sa.and_(
            RelatedState.article_id == self.article_id, RelatedState.claimed_until == self.lease
        )


def _unclaimed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(RelatedState.claimed_until.is_(None), RelatedState.claimed_until <= now)


async def claim_batch(engine: AsyncEngine, limit: int) -> list[Claim]:
    """Claim up to `limit` due stories, most urgent first, which no other process takes until
    the lease ends. Committed before this returns.

    As people extraction claims (models/people.py): `FOR NO KEY UPDATE SKIP LOCKED` on
    PostgreSQL, so processes claiming at once take different stories; on SQLite one
    `UPDATE ... WHERE ... IN (SELECT ...) RETURNING`, which holds the write lock from reading to
    writing (its driver runs a lone SELECT outside any transaction).
    """
    now = utcnow()
    lease = now + CLAIM_LEASE
    due = (
        sa.select(RelatedState.article_id)
        .where(RelatedState.due_at <= now, _unclaimed(now))
        .order_by(RelatedState.priority, RelatedState.due_at, RelatedState.article_id)
        .limit(limit)
    )
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, key_share=True)
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return []
            which: sa.ColumnElement[bool] = RelatedState.article_id.in_(ids)
        else:
            if not await conn.scalar(sa.select(due.exists())):
                return []
            which = sa.and_(
                RelatedState.article_id.in_(due), RelatedState.due_at <= now, _unclaimed(now)
            )
        rows = await conn.execute(
            sa.update(RelatedState)
            .where(which)
            .values(claimed_until=lease)
            .returning(
                RelatedState.article_id,
                RelatedState.version,
                RelatedState.priority,
                RelatedState.input_hash,
                RelatedState.noticed_at,
                RelatedState.due_at,
            )
        )
        claims = [Claim(*row, lease=lease) for row in rows]
    return sorted(claims, key=lambda claim: claim.article_id)


async def release(engine: AsyncEngine, claims: Sequence[Claim]) -> None:
    """Give claimed stories back before their lease ends, for any process to take at once."""
    async with engine.begin() as conn:
        for claim in claims:
            await conn.execute(
                sa.update(RelatedState).where(claim.held()).values(claimed_until=None)
            )


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
    published or not: every publish, unpublish and edit is seen (`take_changes`)."""
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


# Storing ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Computed:
    """What the job found for one claimed story: its list (empty if it is not published), and
    its fingerprint (None if it is not published)."""

    claim: Claim
    related: list[tuple[int, float]]
    input_hash: str | None


@dataclass(slots=True)
class _Reason:
    """Why a list may need computing again: the most urgent priority among its changed
    stories, and the latest time one of those changes was seen (None: a change no one noted,
    which no list can know of)."""

    priority: int
    seen: datetime | None

    def add(self, claim: Claim) -> None:
        self.priority = min(self.priority, claim.priority)
        if self.seen is not None and claim.noticed_at is not None:
            self.seen = max(self.seen, claim.noticed_at)
        else:
            self.seen = None


def _reason(reasons: dict[int, _Reason], list_id: int, claim: Claim) -> None:
    if list_id in reasons:
        reasons[list_id].add(claim)
    else:
        reasons[list_id] = _Reason(claim.priority, claim.noticed_at)


def _chunks(ids: Iterable[int], size: int = 1_000) -> list[list[int]]:
    """Bound lists of ids: both drivers cap a statement's parameters near 32,000."""
    ordered = sorted(ids)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


async def fan_out_targets(
    conn: AsyncConnection,
    changed: Mapping[int, tuple[Claim, list[tuple[int, float]]]],
    computing: set[int],
) -> dict[int, int]:
    """The lists to compute again because these stories changed, with the priority of the
    change: the lists they are in (they may leave, or move), and the lists of their `reach`
    (story, score) in which they now score more than the list's lowest (they may enter).

    Left alone: the lists in `computing` (ranked with this batch's corpus), lists due already
    that no one holds (they will be ranked with a later corpus), and lists ranked with a corpus
    read after every one of their changes was seen.
    """
    if not changed:
        return {}
    containing: dict[int, _Reason] = {}
    for chunk in _chunks(changed):
        for row in await conn.execute(
            sa.select(RelatedArticle.article_id, RelatedArticle.related_id).where(
                RelatedArticle.related_id.in_(chunk)
            )
        ):
            _reason(containing, row.article_id, changed[row.related_id][0])
    entering: dict[int, list[tuple[Claim, float]]] = {}
    for claim, scored in changed.values():
        for other, score in scored:
            entering.setdefault(other, []).append((claim, score))
    candidates = (set(containing) | set(entering)) - computing - set(changed)
    now = utcnow()
    state: dict[int, Any] = {}
    for chunk in _chunks(candidates):
        for row in await conn.execute(
            sa.select(
                RelatedState.article_id,
                RelatedState.synced_at,
                RelatedState.due_at,
                RelatedState.claimed_until,
                RelatedState.priority,
            ).where(RelatedState.article_id.in_(chunk))
        ):
            state[row.article_id] = row

    def waiting(list_id: int, priority: int) -> bool:
        row = state.get(list_id)
        unclaimed = row is None or row.claimed_until is None or row.claimed_until <= now
        return row is not None and row.due_at <= now and unclaimed and row.priority <= priority

    reasons = {
        i: r for i, r in containing.items() if i in candidates and not waiting(i, r.priority)
    }
    maybe = [
        i
        for i, pairs in entering.items()
        if i in candidates and not waiting(i, min(c.priority for c, _ in pairs))
    ]
    lowest: dict[int, float] = {}
    for chunk in _chunks(maybe):
        full = (
            sa.select(RelatedArticle.article_id, sa.func.min(RelatedArticle.score))
            .where(RelatedArticle.article_id.in_(chunk))
            .group_by(RelatedArticle.article_id)
            .having(sa.func.count() >= LIST_SIZE)
        )
        lowest.update({row[0]: row[1] for row in await conn.execute(full)})
    for list_id in maybe:
        for claim, score in entering[list_id]:
            if list_id not in lowest or score > lowest[list_id]:
                _reason(reasons, list_id, claim)

    def knows(list_id: int, reason: _Reason) -> bool:
        synced = state[list_id].synced_at if list_id in state else None
        return (
            reason.seen is not None and synced is not None and synced > reason.seen + CLOCK_MARGIN
        )

    return {i: r.priority for i, r in reasons.items() if not knows(i, r)}


async def store(
    engine: AsyncEngine,
    computed: Sequence[Computed],
    synced_at: datetime,
    fan_out: Mapping[int, tuple[Claim, list[tuple[int, float]]]],
) -> set[int]:
    """Store the lists of the claims still held, and make due the lists around the stories
    that changed (see `fan_out_targets`). Answers the stories whose lists now show others."""
    if not computed:
        return set()
    now = utcnow()
    ids = sorted(c.claim.article_id for c in computed)
    async with engine.begin() as conn:
        await _take_turn(conn)
        leases = {
            row.article_id: row.claimed_until
            for row in await conn.execute(
                sa.select(RelatedState.article_id, RelatedState.claimed_until).where(
                    RelatedState.article_id.in_(ids)
                )
            )
        }
        # A claim whose lease lapsed and was taken over by another process stores nothing.
        kept = sorted(
            (c for c in computed if leases.get(c.claim.article_id) == c.claim.lease),
            key=lambda c: c.claim.article_id,
        )
        old: dict[int, list[tuple[int, float]]] = {c.claim.article_id: [] for c in kept}
        for row in await conn.execute(
            sa.select(RelatedArticle.article_id, RelatedArticle.related_id, RelatedArticle.score)
            .where(RelatedArticle.article_id.in_(list(old)))
            .order_by(RelatedArticle.article_id, RelatedArticle.rank)
        ):
            old[row.article_id].append((row.related_id, row.score))
        relisted = {
            c.claim.article_id
            for c in kept
            if [i for i, _ in old[c.claim.article_id]] != [i for i, _ in c.related]
        }
        # Lists whose scores moved are stored too: the scores decide who may enter them.
        rewritten = [
            c
            for c in kept
            if c.claim.article_id in relisted
            or any(
                abs(a - b) > 1e-4
                for (_, a), (_, b) in zip(old[c.claim.article_id], c.related, strict=True)
            )
        ]
        for start in range(0, len(rewritten), 500):
            chunk = [c.claim.article_id for c in rewritten[start : start + 500]]
            await conn.execute(
                sa.delete(RelatedArticle).where(RelatedArticle.article_id.in_(chunk))
            )
        entries = [
            {"article_id": c.claim.article_id, "rank": rank, "related_id": i, "score": score}
            for c in rewritten
            for rank, (i, score) in enumerate(c.related)
        ]
        if entries:
            await conn.execute(sa.insert(RelatedArticle), entries)
        if kept:
            same = RelatedState.version == sa.bindparam("claimed_version")
            await conn.execute(
                sa.update(RelatedState)
                .where(
                    RelatedState.article_id == sa.bindparam("id"),
                    RelatedState.claimed_until == sa.bindparam("lease"),
                )
                .values(
                    input_hash=sa.bindparam("hash"),
                    computed_at=now,
                    synced_at=synced_at,
                    listed_at=sa.case(
                        (sa.bindparam("relisted", type_=sa.Boolean), now),
                        else_=RelatedState.listed_at,
                    ),
                    claimed_until=None,
                    attempts=0,
                    error=None,
                    # A reason to compute it again that came meanwhile keeps it due.
                    due_at=sa.case((same, now + SWEEP), else_=RelatedState.due_at),
                    priority=sa.case((same, BULK), else_=RelatedState.priority),
                ),
                [
                    {
                        "id": c.claim.article_id,
                        "lease": c.claim.lease,
                        "claimed_version": c.claim.version,
                        "hash": c.input_hash,
                        "relisted": c.claim.article_id in relisted,
                    }
                    for c in kept
                ],
            )
        live = {i: v for i, v in fan_out.items() if i in {c.claim.article_id for c in kept}}
        await _mark_due(conn, await fan_out_targets(conn, live, set(ids)))
    return relisted


async def failed(engine: AsyncEngine, claims: Sequence[Claim], error: str) -> None:
    """Record the error and retry after a back-off growing with the attempts (at most an hour)."""
    async with engine.begin() as conn:
        await _take_turn(conn)
        for claim in claims:
            attempts = (
                await conn.scalar(
                    sa.select(RelatedState.attempts).where(
                        RelatedState.article_id == claim.article_id
                    )
                )
                or 0
            )
            wait = min(timedelta(seconds=30 * 2 ** min(attempts, 7)), MAX_RETRY)
            await conn.execute(
                sa.update(RelatedState)
                .where(claim.held())
                .values(
                    error=error[:2000],
                    attempts=attempts + 1,
                    claimed_until=None,
                    due_at=sa.case(
                        (RelatedState.version == claim.version, utcnow() + wait),
                        else_=RelatedState.due_at,
                    ),
                )
            )
