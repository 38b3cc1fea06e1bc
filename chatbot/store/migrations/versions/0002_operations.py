"""Replies with their cited sections and signs, pins, shared keys; feedback names its sections.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("sections", sa.JSON))
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date, nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("question", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("not_covered", sa.Boolean, nullable=False),
        sa.Column("alert_level", sa.String(20)),
        sa.Column("pinned", sa.Integer),
    )
    for name in ("reply_sections", "reply_signs"):
        columns = (
            [sa.Column("chunk_id", sa.Text, nullable=False), sa.Column("section", sa.Text, nullable=False),
             sa.Column("label", sa.Text, nullable=False), sa.Column("article_id", sa.Text, nullable=False),
             sa.Column("article_title", sa.Text, nullable=False)]
            if name == "reply_sections" else
            [sa.Column("level", sa.String(20), nullable=False), sa.Column("sign", sa.Text, nullable=False)]
        )
        op.create_table(
            name,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("reply_id", sa.Integer, sa.ForeignKey("replies.id", ondelete="CASCADE"), nullable=False,
                      index=True),
            *columns,
        )
    op.create_table(
        "pins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("chunk_ids", sa.JSON, nullable=False),
        sa.Column("centroid", sa.JSON, nullable=False),
        sa.Column("model_id", sa.Text, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("questions", sa.Integer, nullable=False),
    )
    op.create_table(
        "instance_keys",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("instance_keys", "pins", "reply_signs", "reply_sections", "replies"):
        op.drop_table(name)
    op.drop_index("ix_feedback_created_at", "feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("sections")
