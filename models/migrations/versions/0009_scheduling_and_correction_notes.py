"""Scheduled publishing (a `scheduled` status and the time the story goes out) and the dated
correction notes published under a story."""

import sqlalchemy as sa
from alembic import op

import models.base
from models.migrations.ddl import foreign_key

revision = "0009"
down_revision = "0008"

BEFORE = ("draft", "published", "unpublished")
AFTER = (*BEFORE, "scheduled")
DUE = "status = 'scheduled'"


def _status_check(values: tuple[str, ...]) -> None:
    # The status column is a VARCHAR with a CHECK (models.enums.string_enum); a new value means
    # a new CHECK. On SQLite the batch rebuilds the table with it.
    allowed = ", ".join(f"'{value}'" for value in values)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_articles_article_status"), type_="check")
        batch_op.create_check_constraint("article_status", sa.text(f"status IN ({allowed})"))


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_at", models.base.UTCDateTime(), nullable=True))
    _status_check(AFTER)
    # The scheduler asks every second whether a story is due: only scheduled rows are indexed.
    op.create_index(
        "ix_articles_due_scheduled_at",
        "articles",
        ["scheduled_at"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )
    op.create_table(
        "correction_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("editor", sa.String(length=200), nullable=False),
        sa.Column("correction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        foreign_key("correction_notes", "article_id", "articles", "CASCADE"),
        foreign_key("correction_notes", "correction_id", "corrections", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_notes")),
    )
    op.create_index(
        "ix_correction_notes_article_id_created_at",
        "correction_notes",
        ["article_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_correction_notes_article_id_created_at", table_name="correction_notes")
    op.drop_table("correction_notes")
    op.drop_index("ix_articles_due_scheduled_at", table_name="articles")
    # Scheduled stories go back to drafts: the old CHECK has no place for them.
    op.execute("UPDATE articles SET status = 'draft' WHERE status = 'scheduled'")
    _status_check(BEFORE)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("scheduled_at")
