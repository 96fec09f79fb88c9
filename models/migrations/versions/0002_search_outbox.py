"""The search outbox: changes waiting to reach Meilisearch."""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "search_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("available_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", models.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_outbox")),
    )
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_outbox_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(
            "ix_search_outbox_processed_at_available_at",
            ["processed_at", "available_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_search_outbox_processed_at_available_at")
        batch_op.drop_index(batch_op.f("ix_search_outbox_article_id"))

    op.drop_table("search_outbox")
