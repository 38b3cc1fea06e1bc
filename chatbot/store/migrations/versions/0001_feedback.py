"""Feedback, as the feedback-only SQLite file had it (adopted when it is already there).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("feedback"):
        return  # a data folder from before migrations: same table, keep its rows
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("rating", sa.Text, sa.CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),
                  nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("message_id", sa.Text),
        sa.Column("question", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("kind", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback")
