"""Consistent online backups and restores of the database and the encrypted files (design §2).

A backup is one gzip-compressed tar archive: `manifest.json` first (format, version, time,
database kind, migration revision, size and SHA-256 of every other member), then the database
copy (SQLite online backup API, or `pg_dump --format=custom`), then every encrypted document
exactly as stored. Master keys are never archived. docs/backup-format.md describes the format
and the operator's restore procedure.

    manifest.py   the manifest's JSON form, its checks, safe member names
    archive.py    writing the tar archive and reading it back with every check
    sqlite.py     SQLite snapshot and placement of the restored file
    postgres.py   pg_dump / pg_restore and the empty-database check
    create.py     `create_backup`
    restore.py    `restore_backup`
"""

from storage.backup.create import create_backup
from storage.backup.errors import BackupError
from storage.backup.restore import restore_backup

__all__ = ["BackupError", "create_backup", "restore_backup"]
