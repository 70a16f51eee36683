"""Random walks through the conversation: whatever the applicant does, the flow stays sound."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.buttons import parse_info, parse_press
from conversations.effects import (
    ANSWER_FIELDS,
    AttachInfoDocument,
    DiscardDraft,
    ReplyToOfficer,
    SaveAnswer,
    SubmitApplication,
)
from conversations.events import (
    COMMANDS,
    DOCUMENT_REFUSAL_REASONS,
    ButtonPress,
    Command,
    ContactShared,
    DocumentAccepted,
    DocumentRefused,
    Event,
    FileWithoutRequest,
    Start,
    Text,
    Unsupported,
)
from conversations.flow import STATES, expected_document, handle
from conversations.memory import SAMPLE_TEXTS, InMemoryChat
from conversations.replies import Button, Reply, messages_in
from tests.test_conversation_machine import marked_message_ids

TODAY = date(2026, 11, 27)
MARKED = marked_message_ids()
SECRETS = ("330106198001011235", "13905712468")
ANSWER_SAMPLE = "answer the question"
UPLOAD = "upload a file"

texts = st.one_of(
    st.sampled_from(sorted(SAMPLE_TEXTS.values())),
    st.sampled_from(["", " ", "0", "30万", "abc", "<b>x</b>", "91350100M000100Y44", "x" * 600]),
    st.text(max_size=40),
)
free_events = st.one_of(
    st.just(Start()),
    st.builds(Command, st.sampled_from([*COMMANDS, "unknown"])),
    st.builds(Text, texts),
    st.builds(ButtonPress, st.text(max_size=70)),
    st.builds(
        ContactShared,
        st.sampled_from(["+86 139 0571 2468", "13800000000", "+1 202 555 0100", ""]),
        st.booleans(),
    ),
    st.builds(Unsupported, st.sampled_from(["sticker", "voice", "location", "video", "poll"])),
    st.builds(DocumentRefused, st.sampled_from([*DOCUMENT_REFUSAL_REASONS, "other"])),
)


def user_data(reply: Reply) -> list[str]:
    return [
        value
        for message in messages_in(reply)
        for value in message.params.values()
        if isinstance(value, str)
    ]


def check(applicant: InMemoryChat, event: Event) -> None:
    snapshot = applicant.snapshot()
    outcome = handle(snapshot, event)
    assert handle(snapshot, event) == outcome, "handle must be deterministic"
    assert outcome.state in STATES
    # Every input gets an answer; a submission's comes with SubmissionRecorded.
    assert outcome.replies or outcome.effects == (SubmitApplication(),)
    assert set(outcome.context) <= {"q", "editing", "doc_type", "resume"}
    json.dumps(outcome.context)
    for effect in outcome.effects:
        if isinstance(effect, SaveAnswer):
            assert effect.field in ANSWER_FIELDS
    for reply in outcome.replies:
        for message in messages_in(reply):
            assert message.msgid in MARKED, message.msgid
        for row in reply.buttons:
            for button in row:
                assert len(button.data.encode()) <= 64
        # Personal data only ever appears masked.
        assert not any(secret in value for value in user_data(reply) for secret in SECRETS)
    if isinstance(event, ButtonPress) and parse_info(event.data) is not None:
        # A request's buttons are valid while it is open, whatever was asked since.
        stale = snapshot.info_request is None
    elif isinstance(event, ButtonPress) and not event.data.startswith("lang:"):
        press = parse_press(event.data)
        stale = press is None or press.token != snapshot.context.get("q")
    else:
        stale = False
    keeps_everything = (
        stale
        or isinstance(event, Unsupported | Start)
        or (isinstance(event, Command) and event.name in ("status", "help", "language"))
    )
    if keeps_everything and snapshot.state not in ("new", "submitting"):
        assert outcome.effects == ()
        assert outcome.state == snapshot.state
    if DiscardDraft() in outcome.effects:
        assert snapshot.state == "confirm_cancel"
    # The request's paths never touch a draft, and a draft's questions never reach the officer.
    for effect in outcome.effects:
        if isinstance(effect, ReplyToOfficer):
            assert snapshot.state in ("idle", "info_answer")
            assert 0 < len(effect.text) <= 2000
        if isinstance(effect, AttachInfoDocument):
            assert snapshot.state == "info_upload"
            assert outcome.effects == (effect,)


def buttons_of(replies: tuple[Reply, ...]) -> list[Button]:
    return [button for reply in replies for row in reply.buttons for button in row]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    telegram_language=st.sampled_from([None, "en", "zh-hans", "fr"]),
    steps=st.integers(min_value=1, max_value=60),
    start=st.sampled_from(
        ["new", "industry", "phone", "security_type", "documents", "summary", "asked", "both"]
    ),
)
def test_random_walks_never_fail_and_never_break_the_rules(
    data: st.DataObject, telegram_language: str | None, steps: int, start: str
) -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language=telegram_language)
    if start in ("asked", "both"):
        # An officer asks for documents and an answer; in "both" a new draft is under way.
        applicant.advance_to("idle")
        if start == "both":
            open_one = applicant.applications[0]
            applicant.applications[0] = replace(open_one, status="rejected")
            applicant.send(Command("apply"))
            applicant.advance_to("amount")
            applicant.applications.append(replace(open_one, reference="SME-2026-000002"))
        applicant.officer_requests(("owner_id", "tax_certificate"), "Why now?")
    elif start != "new":
        applicant.advance_to(start)
    seen_buttons: set[str] = set()
    for _ in range(steps):
        current = [button.data for button in buttons_of(applicant.last)]
        choices: list[st.SearchStrategy[Event | str]] = [
            free_events,
            st.sampled_from([ANSWER_SAMPLE, UPLOAD]),
        ]
        if current:
            choices.append(st.sampled_from(current).map(ButtonPress))
        if seen_buttons:
            choices.append(st.sampled_from(sorted(seen_buttons)).map(ButtonPress))
        action = data.draw(st.one_of(choices))
        if action == ANSWER_SAMPLE:
            try:
                applicant.answer_current()
            except LookupError:
                applicant.send(Start())
        else:
            if isinstance(action, str):
                # The adapter asks first and only downloads a file that is being asked for.
                kind = expected_document(applicant.snapshot())
                action = FileWithoutRequest() if kind is None else DocumentAccepted(kind, None)
            check(applicant, action)
            applicant.send(action)
        assert applicant.state in STATES
        assert applicant.has_draft or applicant.answers == {}
        seen_buttons |= {button.data for button in buttons_of(applicant.last)}
        if expected_document(applicant.snapshot()) is not None:
            assert applicant.state in ("document_upload", "info_upload")
        assert applicant.has_draft or applicant.answers == {}


def test_a_snapshot_with_a_tampered_context_still_answers() -> None:
    applicant = InMemoryChat(today=TODAY)
    applicant.advance_to("documents")
    for context in ({"q": "x"}, {"q": -5, "resume": 3}, {"doc_type": "passport"}, {}):
        snapshot = replace(applicant.snapshot(), context=context)
        outcome = handle(snapshot, ButtonPress("q1:docs:done"))
        assert outcome.state == "documents"
        assert outcome.effects == ()
        # The checklist asked again carries buttons that work from now on.
        (reply,) = outcome.replies
        press = reply.buttons[0][0].data
        retry = handle(replace(snapshot, context=outcome.context), ButtonPress(press))
        assert retry.state == "document_upload"
    keep = replace(
        applicant.snapshot(), state="confirm_cancel", context={"q": 9, "resume": "nowhere"}
    )
    outcome = handle(keep, ButtonPress("q9:cancel:no"))
    # "No, continue" without a known place to return to resumes at the first open point.
    assert outcome.state == "documents"
    assert outcome.effects == ()
    assert outcome.replies
