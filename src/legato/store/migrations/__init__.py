"""Alembic migrations of the store schema. ``HEAD`` must name the newest revision."""

HEAD = "0005"
