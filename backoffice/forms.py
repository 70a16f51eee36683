"""Reading submitted forms safely, and answering them with a redirect.

Handlers read only the fields they name (never a whole form into a model), so an extra
field such as `status=approved` or `role=admin` is simply ignored.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

FormData = MultiDictProxy[str | bytes | bytearray | web.FileField]


async def read_form(request: web.Request) -> FormData:
    return await request.post()


def text(form: FormData, name: str, *, max_length: int) -> str:
    """The field as text, cut to `max_length`; "" when absent or when a file was sent."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value[:max_length]


def whole_number(form: FormData, name: str) -> int | None:
    value = text(form, name, max_length=20).strip()
    return int(value) if value.isascii() and value.isdigit() else None


def redirect(location: str) -> web.Response:
    """303 See Other, so the browser follows a form post with a GET."""
    return web.Response(status=303, headers={"Location": location})


def local_path(candidate: str, default: str) -> str:
    """`candidate` if it is a path on this site, else `default` (no open redirects)."""
    if (
        candidate.startswith("/")
        and not candidate.startswith("//")
        and "\\" not in candidate
        and candidate.isprintable()
    ):
        return candidate
    return default
