"""Alembic migrations, applied at start-up and by `python run.py migrate`."""
