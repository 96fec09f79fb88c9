"""Constraint and column builders the migrations share, each spelling out what Alembic's
autogenerate would write.

Frozen: revisions already applied to databases build their tables through these, so changing
one changes what an old revision means. A new shape of DDL gets a new function (or is written
out in its revision); an existing function never changes.
"""

import sqlalchemy as sa
from alembic import op


def foreign_key(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """`table.column` references `target.id`, named as models.base.NAMING_CONVENTION names it."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def string_enum(name: str, *values: str, length: int = 16) -> sa.Enum:
    """A VARCHAR with a CHECK on its values, as models.enums.string_enum declares one."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)
