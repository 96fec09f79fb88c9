"""People extraction claims: the lease a process holds on the stories it is extracting."""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("people_claimed_until", models.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("people_claimed_until")
