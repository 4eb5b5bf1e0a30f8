"""where each inquiry's staff card lives (staff_cards), and the contact's own message
of each event (inquiry_events.message_id) for the receipts' reactions

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_cards",
        sa.Column(
            "inquiry_id",
            sa.Integer(),
            sa.ForeignKey("inquiries.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("chat_id", sa.BigInteger(), primary_key=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("edits", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_cards_thread", "staff_cards", ["chat_id", "thread_id"])
    with op.batch_alter_table("inquiry_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inquiry_events", schema=None) as batch_op:
        batch_op.drop_column("message_id")
    op.drop_index("ix_staff_cards_thread", table_name="staff_cards")
    op.drop_table("staff_cards")
