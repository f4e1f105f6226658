"""The database: SQLAlchemy sessions, commits that survive a lost connection, read-only sessions, the cache."""
