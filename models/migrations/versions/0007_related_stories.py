"""Related stories computed ahead: each story's list, the job's state per story (the hash of
what the list was computed from, when it is due, the lease of the process computing it), and the
queue of changed stories written with each change."""

import sqlalchemy as sa
from alembic import op

import models.base
from models.migrations.ddl import foreign_key

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "related_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_related_changes")),
    )
    op.create_table(
        "related_articles",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        foreign_key("related_articles", "article_id", "articles", "CASCADE"),
        foreign_key("related_articles", "related_id", "articles", "CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "rank", name=op.f("pk_related_articles")),
    )
    with op.batch_alter_table("related_articles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_related_articles_related_id"), ["related_id"], unique=False
        )
    # Stories published before this revision get their state (and their list) from the job
    # itself, which looks for published stories it has never seen (models/related.py).
    op.create_table(
        "related_state",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=True),
        sa.Column("due_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="2", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("noticed_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("synced_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("computed_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("listed_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("claimed_until", models.base.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        foreign_key("related_state", "article_id", "articles", "CASCADE"),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_related_state")),
    )
    with op.batch_alter_table("related_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_related_state_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_related_state_listed_at"), ["listed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("related_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_related_state_listed_at"))
        batch_op.drop_index(batch_op.f("ix_related_state_due_at"))
    op.drop_table("related_state")
    with op.batch_alter_table("related_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_related_articles_related_id"))
    op.drop_table("related_articles")
    op.drop_table("related_changes")
