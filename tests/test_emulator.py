"""The real python-telegram-bot Application, polling the Bot API emulator over HTTP."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.sandbox import BotApiEmulator
from tests.sandbox_helpers import StartApplication, build_demo_bot


@pytest.fixture
async def demo_bot(emulator: BotApiEmulator, ptb_application: StartApplication) -> None:
    await ptb_application(build_demo_bot)


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.usefixtures("demo_bot")
async def test_command_and_text_reach_the_bot_and_its_answers_come_back(
    emulator: BotApiEmulator,
) -> None:
    user = emulator.user(42, first_name="Li", language_code="zh-hans")

    await user.command("/start")
    greeting = await user.next_message()
    await user.send_text("你好，我想申请贷款")
    echo = await user.next_message()

    assert greeting.text == "Hello Li"
    assert echo.text == "你好，我想申请贷款"
    assert not echo.edited
    assert emulator.calls[:2] == ["getMe", "deleteWebhook"]
    assert emulator.calls.count("sendMessage") == 2


@pytest.mark.usefixtures("demo_bot")
async def test_inline_button_press_is_answered_and_the_message_edited(
    emulator: BotApiEmulator,
) -> None:
    user = emulator.user(42)
    await user.command("/buttons")
    question = await user.next_message()

    await user.press("同意")
    edited = await user.next_message()

    assert question.inline_buttons == [[("同意", "agree")], [("不同意", "disagree")]]
    assert edited.message_id == question.message_id
    assert edited.edited
    assert edited.text == "Chosen: agree"
    assert edited.entities == [{"type": "bold", "offset": 0, "length": 7}]
    assert edited.inline_buttons == []  # an edit without reply_markup drops the keyboard
    assert user.last_callback_answer is not None
    assert user.last_callback_answer.text == "pressed agree"
    with pytest.raises(LookupError):
        await user.press_on(question.message_id, "不同意")  # the keyboard is gone


@pytest.mark.usefixtures("demo_bot")
async def test_contact_button_shares_the_users_own_contact(emulator: BotApiEmulator) -> None:
    user = emulator.user(42, phone_number="+8613912345678")
    await user.command("/contact")
    prompt = await user.next_message()

    await user.press("Share my phone")
    answer = await user.next_message()

    assert prompt.reply_keyboard == [["Share my phone"], ["Skip"]]
    assert prompt.contact_buttons == ["Share my phone"]
    assert answer.text == "contact user_id=42 phone=+8613912345678"
    assert answer.removed_keyboard
    assert user.reply_keyboard is None


@pytest.mark.usefixtures("demo_bot")
async def test_someone_elses_contact_carries_their_user_id(emulator: BotApiEmulator) -> None:
    user = emulator.user(42)

    await user.share_contact(phone="+8613800000000", own=False)
    answer = await user.next_message()

    assert answer.text is not None
    assert "phone=+8613800000000" in answer.text
    assert "user_id=42 " not in answer.text


@pytest.mark.usefixtures("demo_bot")
async def test_uploaded_document_downloads_with_identical_bytes(emulator: BotApiEmulator) -> None:
    user = emulator.user(42)
    payload = b"%PDF-1.7\n" + bytes(range(256)) * 40

    await user.send_document(payload, file_name="licence.pdf", mime_type="application/pdf")
    answer = await user.next_message()

    assert answer.document == payload
    assert answer.document_name == "echo-licence.pdf"
    assert answer.text == f"{len(payload)} bytes"


@pytest.mark.usefixtures("demo_bot")
async def test_photo_arrives_in_sizes_read_from_the_image(emulator: BotApiEmulator) -> None:
    user = emulator.user(42)
    image = png_bytes(640, 480)

    await user.send_photo(image)
    answer = await user.next_message()

    assert answer.text == "640px"
    assert answer.photo == image


@pytest.mark.usefixtures("demo_bot")
async def test_an_advertised_25_mb_file_cannot_be_fetched(emulator: BotApiEmulator) -> None:
    user = emulator.user(42)

    await user.send_large_document(25 * 1024 * 1024, file_name="huge.pdf")
    answer = await user.next_message()

    assert answer.text == "BadRequest: File is too big"


@pytest.mark.usefixtures("demo_bot")
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/long", "BadRequest: Message is too long"),
        ("/baddata", "BadRequest: Button_data_invalid"),
        (
            "/badhtml",
            'BadRequest: Can\'t parse entities: unsupported start tag "br" at byte offset 4',
        ),
    ],
)
async def test_requests_telegram_refuses_raise_bad_request_in_the_bot(
    emulator: BotApiEmulator, command: str, expected: str
) -> None:
    user = emulator.user(42)

    await user.command(command)
    answer = await user.next_message()

    assert answer.text == expected
    assert emulator.stats.messages_sent == 1  # only the error report got through


@pytest.mark.usefixtures("demo_bot")
async def test_a_429_raises_retry_after_with_the_servers_delay(emulator: BotApiEmulator) -> None:
    user = emulator.user(42)
    emulator.faults.rate_limit_next(1, retry_after=7, methods=["sendMessage"])

    await user.send_text("hello")
    answer = await user.next_message()

    assert answer.text == "RetryAfter 7"
    assert emulator.stats.too_many_requests == 1


@pytest.mark.usefixtures("demo_bot")
async def test_a_redelivered_update_arrives_again_with_the_same_id(
    emulator: BotApiEmulator, ptb_application: StartApplication
) -> None:
    user = emulator.user(42)
    update_id = await user.send_text("once")
    await user.next_message()

    await emulator.redeliver(update_id)
    again = await user.next_message()
    await user.send_text("after")
    after = await user.next_message()

    assert again.text == "once"
    assert after.text == "after"
    assert [m.text for m in user.history] == ["once", "once", "after"]


async def test_redelivery_reaches_the_handler_with_the_original_update_id(
    emulator: BotApiEmulator, ptb_application: StartApplication
) -> None:
    application = await ptb_application(build_demo_bot)
    user = emulator.user(42)
    update_id = await user.send_text("once")
    await user.next_message()

    await emulator.redeliver(update_id)
    await user.next_message()

    assert application.bot_data["update_ids"] == [update_id, update_id]


async def test_each_chat_gets_its_own_answers(
    emulator: BotApiEmulator, ptb_application: StartApplication
) -> None:
    await ptb_application(build_demo_bot)
    users = [emulator.user(1000 + n, first_name=f"U{n}") for n in range(5)]

    for user in users:
        for turn in range(3):
            await user.send_text(f"{user.user_id}:{turn}")
    answers = {user.user_id: [(await user.next_message()).text for _ in range(3)] for user in users}

    assert answers == {u.user_id: [f"{u.user_id}:{t}" for t in range(3)] for u in users}


@pytest.mark.usefixtures("demo_bot")
async def test_messages_until_quiet_collects_every_answer_in_order(
    emulator: BotApiEmulator,
) -> None:
    user = emulator.user(42)
    await user.command("/start")
    await user.send_text("one")
    await user.send_text("two")

    answers = await user.messages_until_quiet(quiet=0.5)

    assert [m.text for m in answers] == ["Hello Li", "one", "two"]


@pytest.mark.usefixtures("demo_bot")
async def test_pressing_a_missing_label_names_the_visible_buttons(
    emulator: BotApiEmulator,
) -> None:
    user = emulator.user(42)
    await user.command("/buttons")
    await user.next_message()

    with pytest.raises(LookupError, match="同意"):
        await user.press("Maybe")
    assert user.visible_buttons() == ["同意", "不同意"]
