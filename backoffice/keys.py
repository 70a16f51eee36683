"""Typed keys for what the app and each request carry (no string lookups, design §1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from backoffice.access import Access
from backoffice.audit_writer import AuditWriter
from backoffice.queue import StatusCounter
from backoffice.sessions import SignedIn
from settings import Settings
from storage.database import Database
from storage.fields import FieldCipher
from storage.vault import Vault

Clock = Callable[[], datetime]
RouteKey = tuple[str, str]

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
FIELD_CIPHER: web.AppKey[FieldCipher | None] = web.AppKey("field_cipher")
VAULT: web.AppKey[Vault | None] = web.AppKey("vault")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
STATUS_COUNTER = web.AppKey("status_counter", StatusCounter)
# Audit events of reads, written in batches (group commit).
AUDIT_WRITER = web.AppKey("audit_writer", AuditWriter)
# (method, canonical path) → who may use the route; built from backoffice.routes.ROUTES.
ROUTE_ACCESS: web.AppKey[dict[RouteKey, Access]] = web.AppKey("route_access")

# The signed-in officer behind a request (None when nobody is signed in).
SIGNED_IN: web.RequestKey[SignedIn | None] = web.RequestKey("signed_in")
# The moment the request is handled, read once from CLOCK so a request sees one time.
NOW: web.RequestKey[datetime] = web.RequestKey("now")
LOCALE: web.RequestKey[str] = web.RequestKey("locale")
