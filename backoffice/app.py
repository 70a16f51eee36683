"""The back-office app factory: wires settings, database and ciphers into one aiohttp app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web

from backoffice import keys
from backoffice.access import Access
from backoffice.audit_writer import AuditWriter
from backoffice.middlewares import MIDDLEWARES, STATIC_PREFIX, add_security_headers
from backoffice.queue import StatusCounter
from backoffice.rendering import setup_templates
from backoffice.routes import ROUTES, STATIC_ACCESS
from settings import Settings
from storage.database import Database
from storage.fields import FieldCipher
from storage.types import utcnow
from storage.vault import Vault

STATIC_DIR = Path(__file__).with_name("static")
# Forms are small; anything bigger is refused with 413 before it is read into memory.
MAX_FORM_BYTES = 1024 * 1024


async def _finish_audit_writes(app: web.Application) -> None:
    await app[keys.AUDIT_WRITER].close()


async def _stop_recounting(app: web.Application) -> None:
    await app[keys.STATUS_COUNTER].close()


def create_app(
    *,
    settings: Settings,
    database: Database,
    field_cipher: FieldCipher | None,
    vault: Vault | None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """The back-office; the caller owns (and closes) the database, cipher and vault."""
    app = web.Application(client_max_size=MAX_FORM_BYTES, middlewares=MIDDLEWARES)
    app[keys.SETTINGS] = settings
    app[keys.DATABASE] = database
    app[keys.FIELD_CIPHER] = field_cipher
    app[keys.VAULT] = vault
    app[keys.CLOCK] = clock or utcnow
    app[keys.STATUS_COUNTER] = StatusCounter()
    app[keys.AUDIT_WRITER] = AuditWriter(database)
    app.on_cleanup.append(_finish_audit_writes)
    app.on_cleanup.append(_stop_recounting)
    setup_templates(app)

    access: dict[keys.RouteKey, Access] = {}
    for spec in ROUTES:
        route = app.router.add_route(spec.method, spec.path, spec.handler, name=spec.name)
        key = (spec.method, route.resource.canonical if route.resource else spec.path)
        if key in access:
            raise ValueError(f"route declared twice: {key[0]} {key[1]}")
        access[key] = spec.access
    static = app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="static")
    access[("GET", static.canonical)] = STATIC_ACCESS
    app[keys.ROUTE_ACCESS] = access
    app.on_response_prepare.append(add_security_headers)
    return app
