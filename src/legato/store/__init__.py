"""The store: one SQLAlchemy schema, SQLite (embedded default) and PostgreSQL."""
