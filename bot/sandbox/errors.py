"""Bot API errors in Telegram's own shape: an HTTP status and ``{"ok": false, ...}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API call failed; raised inside the emulator, answered as Telegram would."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends with this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """400 with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 with the number of seconds the bot must wait."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def not_found() -> ApiError:
    """Telegram's answer to an unknown method or a malformed token."""
    return ApiError(404, "Not Found")


def unauthorized() -> ApiError:
    """Telegram's answer to a well-formed but wrong token."""
    return ApiError(401, "Unauthorized")


def blocked_by_user() -> ApiError:
    """The user blocked the bot: nothing can be sent to the chat."""
    return ApiError(403, "Forbidden: bot was blocked by the user")
