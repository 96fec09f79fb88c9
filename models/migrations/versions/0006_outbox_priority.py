"""Search outbox priorities, and claims that keep a story with one worker at a time."""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0006"
down_revision = "0005"


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
