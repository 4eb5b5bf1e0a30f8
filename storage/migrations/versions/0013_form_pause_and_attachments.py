"""a form can be paused, its last prompt is known; inquiry events carry files:
form_drafts.paused, prompt_chat_id, prompt_message_id; inquiry_events.attachments

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("form_drafts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("prompt_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prompt_message_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("inquiry_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inquiry_events", schema=None) as batch_op:
        batch_op.drop_column("attachments")
    with op.batch_alter_table("form_drafts", schema=None) as batch_op:
        batch_op.drop_column("prompt_message_id")
        batch_op.drop_column("prompt_chat_id")
        batch_op.drop_column("paused")
