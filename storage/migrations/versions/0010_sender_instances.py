"""sender instances: the processes that share the bot's send rate

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sender_instances",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_instances")),
    )


def downgrade() -> None:
    op.drop_table("sender_instances")
