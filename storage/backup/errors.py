"""The one exception every backup and restore failure is reported as."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why, without secrets."""
