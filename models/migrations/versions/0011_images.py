"""Images: uploaded pictures, and a story's lead image."""

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("alt", sa.Text(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("credit", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    )
    op.create_index(op.f("ix_images_sha256"), "images", ["sha256"], unique=False)
    # SQLite cannot add a foreign key to a table in place: batch mode rebuilds it there (and
    # on PostgreSQL it is a plain ALTER TABLE).
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("lead_image_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_articles_lead_image_id_images"),
            "images",
            ["lead_image_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_constraint(op.f("fk_articles_lead_image_id_images"), type_="foreignkey")
        batch.drop_column("lead_image_id")
    op.drop_index(op.f("ix_images_sha256"), table_name="images")
    op.drop_table("images")
