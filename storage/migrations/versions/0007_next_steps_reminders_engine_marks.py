"""next steps, reminders, engine marks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 03:33:40.325439
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "engine_marks",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_engine_marks")),
    )
    op.create_table(
        "next_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "done", "cancelled", name="step_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_next_steps_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["inquiries.id"],
            name=op.f("fk_next_steps_inquiry_id_inquiries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_next_steps_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_next_steps")),
    )
    with op.batch_alter_table("next_steps", schema=None) as batch_op:
        batch_op.create_index("ix_next_steps_inquiry_id", ["inquiry_id"], unique=False)
        batch_op.create_index(
            "ix_next_steps_owner_status_due", ["owner_id", "status", "due_at"], unique=False
        )
        batch_op.create_index("ix_next_steps_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "queued",
                "merged",
                "cancelled",
                name="reminder_state",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["next_steps.id"],
            name=op.f("fk_reminders_step_id_next_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index("ix_reminders_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_reminders_step_id", ["step_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_step_id")
        batch_op.drop_index("ix_reminders_state_due_at")

    op.drop_table("reminders")
    with op.batch_alter_table("next_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_next_steps_status_due")
        batch_op.drop_index("ix_next_steps_owner_status_due")
        batch_op.drop_index("ix_next_steps_inquiry_id")

    op.drop_table("next_steps")
    op.drop_table("engine_marks")
