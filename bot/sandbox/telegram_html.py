"""Telegram's HTML parse mode: check markup the way the Bot API does and turn it into entities.

Telegram accepts a small set of tags and answers anything else with
``400 Bad Request: can't parse entities: …``. The sandbox stores the plain text and the
entities (offsets in UTF-16 code units, like Telegram) so a client renders them without ever
handing bot text to an HTML parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_CHARACTERS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(
    r"""\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""",
)


class EntityParseError(ValueError):
    """The markup is not what Telegram accepts; the message is Telegram's own wording."""


@dataclass
class _OpenTag:
    name: str
    entity_type: str
    offset: int
    attributes: dict[str, str] = field(default_factory=dict)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, object]]]:
    """Return the plain text and Telegram entities for `source`, or raise EntityParseError."""
    text: list[str] = []
    position = 0  # in UTF-16 code units of the text produced so far
    stack: list[_OpenTag] = []
    entities: list[dict[str, object]] = []
    index = 0
    while index < len(source):
        character = source[index]
        if character == "&":
            decoded, index = _character_reference(source, index)
            text.append(decoded)
            position += utf16_length(decoded)
            continue
        if character != "<":
            text.append(character)
            position += utf16_length(character)
            index += 1
            continue
        byte_offset = len(source[:index].encode("utf-8"))
        if source.startswith("</", index):
            index = _close_tag(source, index, byte_offset, stack, entities, position)
        else:
            tag, index = _open_tag(source, index, byte_offset, position)
            _attach_pre_language(tag, stack)
            stack.append(tag)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -_as_int(entity["length"])))
    return "".join(text), entities


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _character_reference(source: str, index: int) -> tuple[str, int]:
    match = _CHARACTER_REFERENCE.match(source, index)
    if match is None:
        return "&", index + 1
    body = match.group(1)
    if body.startswith(("#x", "#X")):
        code = int(body[2:], 16)
    elif body.startswith("#"):
        code = int(body[1:])
    elif body in _NAMED_CHARACTERS:
        return _NAMED_CHARACTERS[body], match.end()
    else:
        # Telegram leaves an unknown named reference as literal text.
        return "&", index + 1
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "&", index + 1
    return chr(code), match.end()


def _open_tag(source: str, index: int, byte_offset: int, position: int) -> tuple[_OpenTag, int]:
    name_match = _TAG_NAME.match(source, index + 1)
    assert name_match is not None  # the pattern accepts the empty string
    name = name_match.group(0).lower()
    if name not in _TAG_ENTITY:
        raise EntityParseError(
            f'Unsupported start tag "{name_match.group(0)}" at byte offset {byte_offset}'
        )
    attributes: dict[str, str] = {}
    cursor = name_match.end()
    while True:
        closing = source.find(">", cursor)
        if closing == -1:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset}")
        if not source[cursor:closing].strip():
            cursor = closing + 1
            break
        attribute = _ATTRIBUTE.match(source, cursor)
        if attribute is None or attribute.end() == cursor:
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                f"at byte offset {byte_offset}"
            )
        value = next((group for group in attribute.groups()[1:] if group is not None), "")
        attributes[attribute.group(1).lower()] = _unescape(value)
        cursor = attribute.end()
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}'
        )
    if name == "tg-emoji" and not attributes.get("emoji-id", "").isdigit():
        raise EntityParseError(f"Custom emoji identifier expected at byte offset {byte_offset}")
    return _OpenTag(name, _TAG_ENTITY[name], position, attributes), cursor


def _attach_pre_language(tag: _OpenTag, stack: list[_OpenTag]) -> None:
    """`<pre><code class="language-x">` is how Telegram marks a code block's language."""
    if tag.name != "code" or not stack or stack[-1].name != "pre":
        return
    language = tag.attributes.get("class", "")
    if language.startswith("language-"):
        stack[-1].attributes["language"] = language.removeprefix("language-")


def _close_tag(
    source: str,
    index: int,
    byte_offset: int,
    stack: list[_OpenTag],
    entities: list[dict[str, object]],
    position: int,
) -> int:
    closing = source.find(">", index)
    if closing == -1:
        raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset}")
    name = source[index + 2 : closing].strip().lower()
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset}")
    tag = stack.pop()
    if name != tag.name:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {byte_offset}, expected "</{tag.name}>", '
            f'found "</{name}>"'
        )
    length = position - tag.offset
    if length > 0 and not (tag.name == "code" and stack and stack[-1].name == "pre"):
        entities.append(_entity(tag, length))
    return closing + 1


def _entity(tag: _OpenTag, length: int) -> dict[str, object]:
    entity: dict[str, object] = {"type": tag.entity_type, "offset": tag.offset, "length": length}
    if tag.name == "a":
        entity["url"] = tag.attributes.get("href", "")
    elif tag.name == "pre" and "language" in tag.attributes:
        entity["language"] = tag.attributes["language"]
    elif tag.name == "blockquote" and "expandable" in tag.attributes:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attributes["emoji-id"]
    return entity


def _unescape(value: str) -> str:
    result: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "&":
            decoded, index = _character_reference(value, index)
            result.append(decoded)
        else:
            result.append(value[index])
            index += 1
    return "".join(result)
