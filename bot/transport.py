"""python-telegram-bot's HTTP transport on aiohttp's client instead of httpx.

PTB lets an application bring its own `BaseRequest` (its documented extension point for
the transport). Every request the bot makes goes through here; with httpx the transport
cost most of the bot's CPU per update (B1 in README: profiles showed about 90 % of a
sendMessage in httpx/httpcore), aiohttp's client is the same job for a fraction of it.

Request bodies are encoded as PTB's own httpx transport encodes them (URL-encoded form,
multipart when files are attached), and failures map onto PTB's errors the same way:
timeouts to `TimedOut`, other transport failures to `NetworkError`, so PTB's retry and
error handling above work unchanged.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import yarl
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT = type(BaseRequest.DEFAULT_NONE)
_DEFAULT_TIMEOUT_SECONDS = 5.0
# Files are bigger than API calls; PTB's own transport gives their upload 20 s by default.
_MEDIA_WRITE_TIMEOUT_SECONDS = 20.0


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp client session per request object (PTB keeps one for getUpdates)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = _DEFAULT_TIMEOUT_SECONDS,
        write_timeout: float | None = _DEFAULT_TIMEOUT_SECONDS,
        connect_timeout: float | None = _DEFAULT_TIMEOUT_SECONDS,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        body: aiohttp.FormData | dict[str, str] | None = None
        has_files = False
        if request_data is not None:
            files = request_data.multipart_data
            fields = request_data.json_parameters
            if files:
                has_files = True
                form = aiohttp.FormData()
                for name, value in fields.items():
                    form.add_field(name, value)
                for name, (filename, content, mime_type) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                body = form
            elif fields:
                body = fields
        read = self._chosen(read_timeout, self._read_timeout)
        write = self._chosen(
            write_timeout, _MEDIA_WRITE_TIMEOUT_SECONDS if has_files else self._write_timeout
        )
        connect = self._chosen(connect_timeout, self._connect_timeout)
        pool = self._chosen(pool_timeout, self._pool_timeout)
        # aiohttp has no write timeout of its own: the whole request is bounded instead.
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(t for t in parts if t is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(method, url, data=body, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            # The URL's path holds the bot token and aiohttp may quote the URL in its message:
            # redact it, and do not chain the original (tracebacks would print it).
            message = str(error).replace(str(yarl.URL(url).path), "/<token>/…")
            raise NetworkError(f"aiohttp.{type(error).__name__}: {message}") from None

    @staticmethod
    def _chosen(given: object, default: float | None) -> float | None:
        if isinstance(given, _DEFAULT):
            return default
        assert given is None or isinstance(given, int | float)
        return given
