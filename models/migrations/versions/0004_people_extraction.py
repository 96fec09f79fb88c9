"""People extraction: quotes, editors' pins and removals, and the extraction queue."""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

import models.base
from models.migrations.ddl import foreign_key

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        foreign_key("quotes", "article_id", "articles", "CASCADE"),
        foreign_key("quotes", "person_id", "people", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quotes_article_id"), ["article_id"], unique=False)
        batch_op.create_index(
            "ix_quotes_person_id_article_id", ["person_id", "article_id"], unique=False
        )

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("people_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("people_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("people_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("people_retry_at", models.base.UTCDateTime(), nullable=True))

    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("suppressed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    # Stories that exist already get their text hash, so that extraction picks them up. The
    # hash is spelt out here (as models.article.text_hash computes it) so that this migration
    # keeps meaning what it meant when it was written.
    def text_hash(title: str, dek: str | None, body: object) -> str:
        payload = json.dumps([title, dek, body], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    bind = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer),
        sa.column("title", sa.Text),
        sa.column("dek", sa.Text),
        sa.column("body", sa.JSON),
        sa.column("content_hash", sa.String),
    )
    for row in bind.execute(
        sa.select(articles.c.id, articles.c.title, articles.c.dek, articles.c.body)
    ):
        bind.execute(
            articles.update()
            .where(articles.c.id == row.id)
            .values(content_hash=text_hash(row.title, row.dek, row.body))
        )


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("suppressed")
        batch_op.drop_column("pinned")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("people_retry_at")
        batch_op.drop_column("people_attempts")
        batch_op.drop_column("people_error")
        batch_op.drop_column("people_hash")
        batch_op.drop_column("content_hash")

    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_person_id_article_id")
        batch_op.drop_index(batch_op.f("ix_quotes_article_id"))

    op.drop_table("quotes")
