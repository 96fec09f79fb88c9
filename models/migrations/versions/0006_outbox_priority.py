"""Search outbox priorities, and claims that keep a story with one worker at a time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        # Rows written before this revision are treated as editorial: they are few, and none
        # may wait behind bulk work that starts after the upgrade.
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("claimed_until", models.base.UTCDateTime(), nullable=True))
        batch_op.create_index(
            "ix_search_outbox_processed_at_priority_id",
            ["processed_at", "priority", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_search_outbox_processed_at_priority_id")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("priority")
