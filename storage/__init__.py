"""Persistence: models, the unit of work, the encrypted vault, the audit chain, migrations."""
