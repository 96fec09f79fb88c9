"""A partial index of the stories readers see, by publication time."""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

READABLE = "status = 'published' AND deleted_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_articles_readable_published_at_id",
        "articles",
        ["published_at", "id"],
        postgresql_where=sa.text(READABLE),
        sqlite_where=sa.text(READABLE),
    )


def downgrade() -> None:
    op.drop_index("ix_articles_readable_published_at_id", table_name="articles")
