"""programs and departments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:34:41.056335
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "joint_research",
                "tech_transfer",
                "internship",
                "co_built_major",
                "incubation",
                "training",
                "teacher_practice",
                "expert_lecture",
                name="program_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "open", "closed", name="program_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("summary_zh", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("benefits_zh", sa.Text(), nullable=False),
        sa.Column("benefits_en", sa.Text(), nullable=False),
        sa.Column("tags", sa.String(length=500), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_programs_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_programs_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("code", name=op.f("uq_programs_code")),
    )
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.create_index("ix_programs_owner_id", ["owner_id"], unique=False)
        batch_op.create_index(
            "ix_programs_status_department_id_id", ["status", "department_id", "id"], unique=False
        )
        batch_op.create_index("ix_programs_status_kind_id", ["status", "kind", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_index("ix_programs_status_kind_id")
        batch_op.drop_index("ix_programs_status_department_id_id")
        batch_op.drop_index("ix_programs_owner_id")

    op.drop_table("programs")
    op.drop_table("departments")
