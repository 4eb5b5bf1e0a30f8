"""indexes for the Mini App's board counts and charts: inquiries (status, program_id,
assignee_id) and (created_at, first_response_at), each covering what its query reads

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_inquiries_status_program_assignee",
        "inquiries",
        ["status", "program_id", "assignee_id"],
    )
    op.create_index(
        "ix_inquiries_created_response", "inquiries", ["created_at", "first_response_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inquiries_created_response", table_name="inquiries")
    op.drop_index("ix_inquiries_status_program_assignee", table_name="inquiries")
