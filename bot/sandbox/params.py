"""Read Bot API call parameters the way Telegram does, whatever way the client sent them.

Telegram accepts a query string, ``application/json``, URL-encoded forms and
``multipart/form-data``. In forms every value is a string and structured values
(``reply_markup``, ``commands``…) are JSON inside that string; python-telegram-bot sends
exactly that, so every getter accepts both the native JSON type and its string form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.errors import bad_request


@dataclass(frozen=True)
class UploadedFile:
    """A file sent in a multipart request."""

    file_name: str
    mime_type: str
    data: bytes


class Params:
    """The parameters of one call, with typed getters that fail like Telegram does."""

    def __init__(
        self, values: dict[str, Any], uploads: dict[str, UploadedFile] | None = None
    ) -> None:
        self._values = values
        self._uploads = uploads or {}

    @classmethod
    async def from_request(cls, request: web.Request) -> Params:
        """Merge the query string with a JSON, URL-encoded or multipart body."""
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise bad_request("can't parse JSON object")
                values.update(body)
            else:
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[name] = UploadedFile(
                            file_name=value.filename or name,
                            mime_type=value.content_type or "application/octet-stream",
                            data=value.file.read(),
                        )
                    else:
                        values[name] = value
        return cls(values, uploads)

    def __contains__(self, name: str) -> bool:
        return name in self._values or name in self._uploads

    def string(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def required_integer(self, name: str) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def boolean(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in {"true", "1"}
        return bool(value)

    def structure(self, name: str) -> Any:
        """A JSON value: an object or list sent natively or as a JSON string."""
        value = self._values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def input_file(self, name: str) -> UploadedFile | str | None:
        """An uploaded file (directly or by ``attach://``), or a file_id / URL string."""
        if name in self._uploads:
            return self._uploads[name]
        value = self.string(name)
        if value is not None and value.startswith("attach://"):
            attached = self._uploads.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"can't find attached file {value!r}")
            return attached
        return value

    def chat_id(self) -> int:
        """The chat: only numeric ids exist in the sandbox (no public @usernames)."""
        value = self._values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        try:
            return int(str(value))
        except ValueError:
            raise bad_request("chat not found") from None
