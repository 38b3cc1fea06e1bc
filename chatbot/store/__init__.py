"""The clinic's records: replies, feedback and curated answers, in one SQL database.

    store = Store.from_settings(settings)     # SQLite under DATA_DIR, or CHATBOT_DATABASE_URL
    store.migrate()                           # Alembic, at start (app.py)
    store.record_reply(message_id, question, reply)
    store.add_feedback("down", message_id=message_id, comment="too vague")

Modules: `tables` (SQLAlchemy Core tables), `migrations/` (Alembic, shipped in the package),
`store` (the `Store`: opening and migrating the database), and the rest of `Store` in
`writing` (replies, ratings, pins, retention), `reading` (rows back, a page at a time) and
`reports` (counts per day, section and sign); `records` (the dataclasses crossing its edge),
`privacy` (what is stripped before anything is written), `groups` (unanswered questions
grouped by meaning), `pins` (curated answers the bot asks for).
Nothing here is imported by the bot at start-up: SQLAlchemy loads only where a store is made.
"""
