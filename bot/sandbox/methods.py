"""The Bot API methods the sandbox implements, with Telegram's checks and error wording.

Each method takes the emulated world and the call's parameters and returns the ``result``
Telegram would send, or raises ApiError. Method names are case-insensitive, as on Telegram.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.sandbox.errors import ApiError, bad_request, blocked_by_user, too_many_requests
from bot.sandbox.files import (
    MAX_DOWNLOAD_BYTES,
    StoredFile,
    document_api,
    image_size,
    store_photo,
    suffix_for,
)
from bot.sandbox.markup import ReplyMarkup, parse_reply_markup
from bot.sandbox.params import Params, UploadedFile
from bot.sandbox.state import (
    CallbackAnswer,
    PrivateChat,
    StoredMessage,
    WebhookConfig,
    World,
    now,
)
from bot.sandbox.telegram_html import EntityParseError, parse_html

Method = Callable[[World, Params], Awaitable[Any]]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

METHODS: dict[str, tuple[str, Method]] = {}


def method(name: str) -> Callable[[Method], Method]:
    """Register a Bot API method under its canonical name."""

    def register(implementation: Method) -> Method:
        METHODS[name.lower()] = (name, implementation)
        return implementation

    return register


def message_api(world: World, message: StoredMessage) -> dict[str, Any]:
    """A stored message in the Bot API's Message shape."""
    chat = world.chats[message.chat_id]
    sender = world.bot.to_api() if message.from_bot else chat.user.to_api()
    result: dict[str, Any] = {
        "message_id": message.message_id,
        "from": sender,
        "chat": chat.user.chat_api(),
        "date": message.date,
        **message.content,
    }
    inline = message.inline_markup
    if inline is not None:
        result["reply_markup"] = inline.inline_json
    if message.edit_date is not None:
        result["edit_date"] = message.edit_date
    return result


# --- bot identity and updates ------------------------------------------------------------


@method("getMe")
async def get_me(world: World, params: Params) -> Any:
    return {
        **world.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("getUpdates")
async def get_updates(world: World, params: Params) -> Any:
    if world.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    queue = world.updates
    # A newer long poll ends the older one, as Telegram does with two bot instances.
    queue.poll_generation += 1
    generation = queue.poll_generation
    queue.interrupt()
    limit = min(max(params.integer("limit") or 100, 1), 100)
    allowed = params.structure("allowed_updates")
    queue.set_allowed(allowed if isinstance(allowed, list) else None)
    queue.confirm(params.integer("offset") or 0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(params.number("timeout") or 0.0, 0.0)
    while True:
        if queue.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        batch = queue.take(limit)
        remaining = deadline - loop.time()
        if batch or remaining <= 0 or world.closing:
            return batch
        await queue.wait(remaining)


# --- webhook -----------------------------------------------------------------------------


@method("setWebhook")
async def set_webhook(world: World, params: Params) -> Any:
    url = params.string("url") or ""
    if params.boolean("drop_pending_updates"):
        world.updates.drop_pending()
    allowed = params.structure("allowed_updates")
    world.updates.set_allowed(allowed if isinstance(allowed, list) else None)
    if not url:
        world.webhook = None
        return True
    # Telegram demands HTTPS; the sandbox also takes plain HTTP because it lives on loopback.
    if not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.string("secret_token") or ""
    if secret and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    world.webhook = WebhookConfig(
        url=url, secret_token=secret, max_connections=params.integer("max_connections") or 40
    )
    world.updates.interrupt()
    return True


@method("deleteWebhook")
async def delete_webhook(world: World, params: Params) -> Any:
    if params.boolean("drop_pending_updates"):
        world.updates.drop_pending()
    world.webhook = None
    world.updates.interrupt()
    return True


@method("getWebhookInfo")
async def get_webhook_info(world: World, params: Params) -> Any:
    webhook = world.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": world.updates.pending_count,
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        if world.updates.allowed:
            info["allowed_updates"] = world.updates.allowed
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
    return info


# --- sending and editing messages --------------------------------------------------------


@method("sendMessage")
async def send_message(world: World, params: Params) -> Any:
    chat = _writable_chat(world, params)
    raw = params.string("text") or ""
    parse_mode = params.string("parse_mode") or None
    text, entities = _formatted(raw, parse_mode, params.structure("entities"))
    _check_text(text)
    markup = parse_reply_markup(params.structure("reply_markup"))
    _admit(world, chat)
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    message = _send(world, chat, content, markup, raw, parse_mode)
    return message_api(world, message)


@method("sendDocument")
async def send_document(world: World, params: Params) -> Any:
    chat = _writable_chat(world, params)
    source = params.input_file("document")
    if isinstance(source, UploadedFile):
        _check_upload(source)
        stored = world.files.add(
            source.data,
            folder="documents",
            suffix=suffix_for(source.file_name, source.mime_type),
            file_name=source.file_name,
            mime_type=source.mime_type,
        )
    else:
        stored = _existing_file(world, source, "document")
    caption_content, raw, parse_mode = _caption(params)
    markup = parse_reply_markup(params.structure("reply_markup"))
    _admit(world, chat)
    content = {"document": document_api(stored), **caption_content}
    message = _send(world, chat, content, markup, raw, parse_mode, attachment=stored)
    return message_api(world, message)


@method("sendPhoto")
async def send_photo(world: World, params: Params) -> Any:
    chat = _writable_chat(world, params)
    source = params.input_file("photo")
    if isinstance(source, UploadedFile):
        _check_upload(source)
        dimensions = image_size(source.data)
        if dimensions is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        sizes = store_photo(world.files, source.data, dimensions)
        photo = [size.to_api() for size in sizes]
        stored = sizes[-1].file
    else:
        stored = _existing_file(world, source, "photo")
        photo = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.size,
                "width": 1280,
                "height": 960,
            }
        ]
    caption_content, raw, parse_mode = _caption(params)
    markup = parse_reply_markup(params.structure("reply_markup"))
    _admit(world, chat)
    content = {"photo": photo, **caption_content}
    message = _send(world, chat, content, markup, raw, parse_mode, attachment=stored)
    return message_api(world, message)


@method("editMessageText")
async def edit_message_text(world: World, params: Params) -> Any:
    chat, message = _editable_message(world, params)
    if "text" not in message.content:
        raise bad_request("there is no text in the message to edit")
    raw = params.string("text") or ""
    parse_mode = params.string("parse_mode") or None
    text, entities = _formatted(raw, parse_mode, params.structure("entities"))
    _check_text(text)
    # Like Telegram, an edit without reply_markup removes the inline keyboard.
    markup = parse_reply_markup(params.structure("reply_markup"), inline_only=True)
    content = {key: value for key, value in message.content.items() if key != "entities"}
    content["text"] = text
    if entities:
        content["entities"] = entities
    return _edit(world, chat, message, content, markup, raw, parse_mode)


@method("editMessageCaption")
async def edit_message_caption(world: World, params: Params) -> Any:
    chat, message = _editable_message(world, params)
    if "text" in message.content:
        raise bad_request("there is no caption in the message to edit")
    caption_content, raw, parse_mode = _caption(params)
    markup = parse_reply_markup(params.structure("reply_markup"), inline_only=True)
    content = {
        key: value
        for key, value in message.content.items()
        if key not in {"caption", "caption_entities"}
    }
    content.update(caption_content)
    return _edit(world, chat, message, content, markup, raw, parse_mode)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(world: World, params: Params) -> Any:
    chat, message = _editable_message(world, params)
    markup = parse_reply_markup(params.structure("reply_markup"), inline_only=True)
    return _edit(
        world, chat, message, message.content, markup, message.raw_text, message.parse_mode
    )


@method("deleteMessage")
async def delete_message(world: World, params: Params) -> Any:
    chat = _known_chat(world, params)
    message_id = params.required_integer("message_id")
    message = chat.messages.pop(message_id, None)
    if message is None:
        raise bad_request("message to delete not found")
    chat.record("delete", message)
    return True


@method("sendChatAction")
async def send_chat_action(world: World, params: Params) -> Any:
    chat = _writable_chat(world, params)
    action = params.string("action") or ""
    if action not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.last_chat_action = action
    chat.record("chat_action", action=action)
    return True


@method("answerCallbackQuery")
async def answer_callback_query(world: World, params: Params) -> Any:
    query_id = params.string("callback_query_id") or ""
    pending = world.callbacks.get(query_id)
    if pending is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.string("text") or ""
    if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    del world.callbacks[query_id]
    chat = world.chats[pending.chat_id]
    show_alert = params.boolean("show_alert")
    chat.last_callback_answer = CallbackAnswer(text=text, show_alert=show_alert)
    chat.record("callback_answer", text=text, show_alert=show_alert, message_id=pending.message_id)
    return True


# --- files -------------------------------------------------------------------------------


@method("getFile")
async def get_file(world: World, params: Params) -> Any:
    stored = world.files.get(params.string("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_DOWNLOAD_BYTES:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


# --- commands ----------------------------------------------------------------------------


@method("setMyCommands")
async def set_my_commands(world: World, params: Params) -> Any:
    commands = params.structure("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    checked: list[dict[str, str]] = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = str(command.get("command", ""))
        description = str(command.get("description", ""))
        if not _COMMAND.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("command description must be 1-256 characters long")
        checked.append({"command": name, "description": description})
    key = _commands_key(params)
    if checked:
        world.commands[key] = checked
    else:
        world.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(world: World, params: Params) -> Any:
    return world.commands.get(_commands_key(params), [])


@method("deleteMyCommands")
async def delete_my_commands(world: World, params: Params) -> Any:
    world.commands.pop(_commands_key(params), None)
    return True


def commands_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
    """How command lists are filed: canonical scope JSON and language code."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.structure("scope")
    if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
        raise bad_request("can't parse BotCommandScope JSON object")
    language_code = params.string("language_code") or ""
    if language_code and not _LANGUAGE_CODE.fullmatch(language_code):
        raise bad_request("invalid language code specified")
    return commands_key(scope, language_code)


# --- calls that only need to succeed -----------------------------------------------------


@method("logOut")
async def log_out(world: World, params: Params) -> Any:
    return True


@method("close")
async def close(world: World, params: Params) -> Any:
    return True


@method("setMyDescription")
async def set_my_description(world: World, params: Params) -> Any:
    return True


@method("setMyShortDescription")
async def set_my_short_description(world: World, params: Params) -> Any:
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(world: World, params: Params) -> Any:
    return True


# --- helpers -----------------------------------------------------------------------------


def _known_chat(world: World, params: Params) -> PrivateChat:
    chat = world.chat(params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    return chat


def _writable_chat(world: World, params: Params) -> PrivateChat:
    chat = _known_chat(world, params)
    if chat.blocked:
        raise blocked_by_user()
    return chat


def _admit(world: World, chat: PrivateChat) -> None:
    retry_after = world.rate_limiter.admit(chat.user.user_id)
    if retry_after is not None:
        world.stats.too_many_requests_by_chat[chat.user.user_id] += 1
        raise too_many_requests(retry_after)


def _formatted(raw: str, parse_mode: str | None, entities: Any) -> tuple[str, list[dict[str, Any]]]:
    if parse_mode is None:
        return raw, list(entities) if isinstance(entities, list) else []
    mode = parse_mode.lower()
    if mode == "html":
        try:
            return parse_html(raw)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    if mode in {"markdown", "markdownv2"}:
        # Not interpreted by the sandbox: the text is kept as sent, without entities.
        return raw, []
    raise bad_request("unsupported parse_mode")


def _check_text(text: str) -> None:
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")


def _caption(params: Params) -> tuple[dict[str, Any], str | None, str | None]:
    raw = params.string("caption")
    parse_mode = params.string("parse_mode") or None
    if not raw:
        return {}, None, parse_mode
    text, entities = _formatted(raw, parse_mode, params.structure("caption_entities"))
    if len(text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    content: dict[str, Any] = {"caption": text}
    if entities:
        content["caption_entities"] = entities
    return content, raw, parse_mode


def _check_upload(upload: UploadedFile) -> None:
    if not upload.data:
        raise bad_request("file must be non-empty")
    if len(upload.data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "Request Entity Too Large")


def _existing_file(world: World, source: str | None, kind: str) -> StoredFile:
    if not source:
        raise bad_request(f"there is no {kind} in the request")
    stored = world.files.get(source)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


def _send(
    world: World,
    chat: PrivateChat,
    content: dict[str, Any],
    markup: ReplyMarkup | None,
    raw: str | None,
    parse_mode: str | None,
    attachment: StoredFile | None = None,
) -> StoredMessage:
    message = StoredMessage(
        message_id=chat.next_message_id(),
        chat_id=chat.user.user_id,
        from_bot=True,
        date=now(),
        content=content,
        markup=markup,
        raw_text=raw,
        parse_mode=parse_mode,
        attachment=attachment,
    )
    if markup is not None and markup.kind == "keyboard":
        chat.reply_keyboard = markup
    elif markup is not None and markup.kind == "remove":
        chat.reply_keyboard = None
    world.stats.messages_sent += 1
    chat.record("message", message)
    return message


def _editable_message(world: World, params: Params) -> tuple[PrivateChat, StoredMessage]:
    if params.string("inline_message_id"):
        raise bad_request("inline messages are not supported by the sandbox")
    chat = _writable_chat(world, params)
    message = chat.messages.get(params.required_integer("message_id"))
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _edit(
    world: World,
    chat: PrivateChat,
    message: StoredMessage,
    content: dict[str, Any],
    markup: ReplyMarkup | None,
    raw: str | None,
    parse_mode: str | None,
) -> dict[str, Any]:
    if content == message.content and markup == message.inline_markup:
        raise bad_request(NOT_MODIFIED)
    edited = replace(
        message,
        content=content,
        markup=markup,
        raw_text=raw,
        parse_mode=parse_mode,
        edit_date=now(),
    )
    chat.record("edit", edited)
    return message_api(world, edited)
