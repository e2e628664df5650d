"""Persistence: SQLAlchemy tables, the directory repository and Alembic migrations."""
