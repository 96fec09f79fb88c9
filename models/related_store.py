"""Storing what the related-stories job computed: each claimed story's list, and the lists
around the stories that changed made due again (the fan-out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.base import utcnow
from models.related import BULK, CLOCK_MARGIN, LIST_SIZE, SWEEP, RelatedArticle, RelatedState
from models.related_queue import Claim, mark_due, take_turn


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
        for held in await conn.execute(
            sa.select(
                RelatedState.article_id,
                RelatedState.synced_at,
                RelatedState.due_at,
                RelatedState.claimed_until,
                RelatedState.priority,
            ).where(RelatedState.article_id.in_(chunk))
        ):
            state[held.article_id] = held

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
        await take_turn(conn)
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
        await mark_due(conn, await fan_out_targets(conn, live, set(ids)))
    return relisted
