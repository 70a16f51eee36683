"""Telegram's rules as the emulator applies them: HTML parse mode, reply markup, sending
limits, fault order and image headers. Plain unit tests, no server."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from bot.sandbox.errors import ApiError
from bot.sandbox.faults import Faults
from bot.sandbox.files import image_size
from bot.sandbox.markup import parse_reply_markup
from bot.sandbox.rate_limits import RateLimiter, RateLimits
from bot.sandbox.telegram_html import EntityParseError, parse_html


def test_html_tags_become_entities_and_escapes_are_decoded() -> None:
    text, entities = parse_html(
        '<b>Step 3/7</b>\n<i>a &amp; b</i> <span class="tg-spoiler">x</span> '
        '<pre><code class="language-python">1 &lt; 2</code></pre>'
    )

    assert text == "Step 3/7\na & b x 1 < 2"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 8},
        {"type": "italic", "offset": 9, "length": 5},
        {"type": "spoiler", "offset": 15, "length": 1},
        {"type": "pre", "offset": 17, "length": 5, "language": "python"},
    ]


def test_nested_tags_and_non_bmp_characters_use_utf16_offsets() -> None:
    text, entities = parse_html("👍<b>贷款<i>申请</i></b>")

    assert text == "👍贷款申请"
    assert entities == [
        {"type": "bold", "offset": 2, "length": 4},
        {"type": "italic", "offset": 4, "length": 2},
    ]


def test_a_bare_ampersand_and_unknown_references_stay_literal() -> None:
    assert parse_html("R&D &copy; &#20013;")[0] == "R&D &copy; 中"


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("a<br>b", 'Unsupported start tag "br" at byte offset 1'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("公司 <script>", 'Unsupported start tag "script" at byte offset 7'),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_markup_telegram_refuses_is_reported_like_telegram(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as refused:
        parse_html(markup)

    assert str(refused.value) == error


def test_callback_data_is_limited_to_64_bytes_not_characters() -> None:
    fits = parse_reply_markup({"inline_keyboard": [[{"text": "ok", "callback_data": "数" * 21}]]})
    assert fits is not None and fits.inline[0][0].callback_data == "数" * 21

    with pytest.raises(ApiError) as refused:
        parse_reply_markup({"inline_keyboard": [[{"text": "no", "callback_data": "数" * 22}]]})
    assert refused.value.description == "Bad Request: BUTTON_DATA_INVALID"


def test_inline_buttons_need_an_action_and_reply_keyboards_accept_strings() -> None:
    with pytest.raises(ApiError, match="text buttons are unallowed"):
        parse_reply_markup({"inline_keyboard": [[{"text": "plain"}]]})

    keyboard = parse_reply_markup(
        {
            "keyboard": [["Yes", {"text": "Phone", "request_contact": True}]],
            "one_time_keyboard": True,
        }
    )

    assert keyboard is not None and keyboard.kind == "keyboard" and keyboard.one_time
    assert [(b.text, b.request_contact) for b in keyboard.keyboard[0]] == [
        ("Yes", False),
        ("Phone", True),
    ]
    removal = parse_reply_markup({"remove_keyboard": True})
    assert removal is not None and removal.kind == "remove"


def test_per_chat_limit_allows_one_message_per_second_per_chat() -> None:
    clock = iter([0.0, 0.1, 0.2, 1.0, 1.01]).__next__
    limiter = RateLimiter(RateLimits(per_chat_per_second=1, tolerance_seconds=0), clock=clock)

    decisions = [
        limiter.admit(7),
        limiter.admit(7),
        limiter.admit(8),
        limiter.admit(7),
        limiter.admit(7),
    ]

    assert decisions == [None, 1, None, None, 1]
    assert limiter.rejected == 2
    assert limiter.rejected_by_chat == {7: 2}


def test_global_limit_counts_a_sliding_second() -> None:
    times = itertools.chain([0.0 + n * 0.01 for n in range(30)], [0.5, 1.0])
    limiter = RateLimiter(
        RateLimits(global_per_second=30, tolerance_seconds=0), clock=times.__next__
    )

    accepted = [limiter.admit(chat_id) for chat_id in range(30)]

    assert accepted == [None] * 30
    assert limiter.admit(99) == 1  # the 31st inside the same second
    assert limiter.admit(99) is None  # the first one has left the window


def test_tolerance_absorbs_arrival_jitter() -> None:
    clock = iter([0.0, 0.97]).__next__
    limiter = RateLimiter(RateLimits(per_chat_per_second=1), clock=clock)

    assert [limiter.admit(7), limiter.admit(7)] == [None, None]


def test_planned_faults_apply_in_order_and_spare_polling_by_default() -> None:
    faults = Faults()
    faults.rate_limit_next(1, retry_after=5)
    faults.server_error_next(1, status=500, methods=["getFile"])

    polling = faults.take("getupdates")
    first = faults.take("sendmessage")
    second = faults.take("sendmessage")
    file_error = faults.take("getfile")

    assert polling is None
    assert first is not None and (first.status, first.retry_after) == (429, 5)
    assert second is None
    assert file_error is not None and file_error.payload() == {
        "ok": False,
        "error_code": 500,
        "description": "Internal Server Error",
    }


def test_slow_answers_delay_chosen_methods_until_cleared() -> None:
    faults = Faults()
    faults.slow(1.5)

    assert (faults.delay_for("sendmessage"), faults.delay_for("getupdates")) == (1.5, 0.0)
    faults.clear()
    assert faults.delay_for("sendmessage") == 0.0


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_image_size_is_read_from_the_header(image_format: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (321, 123)).save(buffer, format=image_format)

    assert image_size(buffer.getvalue()) == (321, 123)
    assert image_size(b"%PDF-1.7") is None
