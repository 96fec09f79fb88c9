"""A partial index of the stories readers see, by publication time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
