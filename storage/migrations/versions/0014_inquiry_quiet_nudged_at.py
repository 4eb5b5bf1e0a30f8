"""quiet inquiries are nudged once per spell: inquiries.quiet_nudged_at, and an index
for an inquiry's last event

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet_nudged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_inquiry_events_inquiry_created", "inquiry_events", ["inquiry_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inquiry_events_inquiry_created", table_name="inquiry_events")
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_column("quiet_nudged_at")
