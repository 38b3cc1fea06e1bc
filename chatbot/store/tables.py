"""The tables, as SQLAlchemy Core. Alembic's migrations (migrations/versions/) create them;
this module is what the code reads and writes through, and what the tests compare the
migrated schema against.

What a row holds is what the README's privacy section lists: no IP address, user agent,
cookie or user id anywhere.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Created in 0001 exactly as the feedback-only SQLite file had it (created_at as ISO text), so
# an existing data folder is adopted; 0002 added the columns after `source`.
feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),  # ISO 8601, UTC, to the second
    sa.Column("rating", sa.Text, sa.CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),
              nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("message_id", sa.Text),
    sa.Column("question", sa.Text),
    sa.Column("answer", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("sections", sa.JSON),  # [{"id", "section", "label", "article_id", "article_title"}]
    sa.Index("ix_feedback_created_at", "created_at"),
)

# One row per reply the API served. `question` is empty when question storage is off.
replies = sa.Table(
    "replies", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("message_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("question", sa.Text),
    sa.Column("answer", sa.Text),
    sa.Column("not_covered", sa.Boolean, nullable=False, default=False),
    sa.Column("alert_level", sa.String(20)),
    sa.Column("pinned", sa.Integer),  # the pin that answered it, if any
)

# The sections a reply cited: one row each, so reports group by article and section in SQL.
reply_sections = sa.Table(
    "reply_sections", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reply_id", sa.Integer, sa.ForeignKey("replies.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("chunk_id", sa.Text, nullable=False),
    sa.Column("section", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("article_id", sa.Text, nullable=False),
    sa.Column("article_title", sa.Text, nullable=False),
)

# The emergency or urgent signs a reply's triage recognised, one row each.
reply_signs = sa.Table(
    "reply_signs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reply_id", sa.Integer, sa.ForeignKey("replies.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("sign", sa.Text, nullable=False),
)

# Curated answers: questions near `centroid` are answered from `chunk_ids`. No question text
# is kept here, only the admin's label and how many questions the group had.
pins = sa.Table(
    "pins", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("chunk_ids", sa.JSON, nullable=False),
    sa.Column("centroid", sa.JSON, nullable=False),
    sa.Column("model_id", sa.Text, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("questions", sa.Integer, nullable=False),
)

# Secrets every replica must share (the admin session key), made once by whichever comes first.
instance_keys = sa.Table(
    "instance_keys", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
