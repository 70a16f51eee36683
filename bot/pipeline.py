"""Each update: load the chat, run the flow, persist its effects, reply.

Exactly once: the update id is claimed in the same transaction as the effects (design §4.9),
so a redelivered update changes nothing. Turns of different chats that arrive together share
one transaction (`bot/batching.py`); each is answered only after it has committed, and a
failed batch is applied again one turn per transaction. Uploads are downloaded and sealed in
the vault outside any transaction (a 20 MB download must not hold SQLite's write lock), then
attached in a transaction of their own that claims the update; a lost race removes the
sealed file again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update, User
from telegram.error import TelegramError

from bot.batching import TurnBatcher
from bot.context import BotServices
from bot.rendering import render_reply
from bot.translate import Upload, to_input
from bot.uploads import Refusal, UploadRefused, check_declared_size, inspect
from conversations.effects import (
    AttachDocument,
    AttachInfoDocument,
    DiscardDraft,
    Effect,
    RecordConsent,
    ReplyToOfficer,
    SaveAnswer,
    SetLocale,
    StartDraft,
    SubmitApplication,
)
from conversations.events import (
    DocumentAccepted,
    DocumentRefused,
    Event,
    FileWithoutRequest,
    SubmissionRecorded,
)
from conversations.flow import expected_upload, handle
from conversations.replies import Reply
from conversations.snapshot import ApplicationInfo, InfoRequest, Snapshot
from locales import resolve_locale
from storage import applications, audit, casework, chats
from storage.audit import AuditEntry, check_entry
from storage.chats import (
    Chat,
    claim_updates,
    open_chat,
    open_chats,
    save_chat,
    save_chats,
)
from storage.models import Document
from storage.vault import StoredFile

log = logging.getLogger(__name__)


@dataclass
class _Stored:
    """An upload already sealed in the vault, waiting to be attached to the draft."""

    doc_type: str
    file: StoredFile
    content_type: str
    file_unique_id: str


@dataclass
class _Turn:
    """What one update works on in its transaction.

    `owned` and `documents`, when given, were loaded for the whole batch and serve the first
    snapshot; `answers` and `audit` are answer writes and audit events not yet sent (see
    `_write_answers`, `_write_audit`).
    """

    session: AsyncSession
    chat: Chat
    telegram_language: str | None
    now: datetime
    owned: Sequence[Row[Any]] | None = None
    documents: Mapping[int, frozenset[str]] | None = None
    open_application: Row[Any] | None = None
    upload: _Stored | None = None
    discarded_files: list[str] = field(default_factory=list)
    attached: bool = False
    answers: list[dict[str, object]] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


@dataclass(frozen=True)
class _Request:
    """One update's event, waiting for its turn."""

    update: Update
    event: Event

    @property
    def chat_id(self) -> int:
        assert self.update.effective_chat is not None
        return self.update.effective_chat.id

    @property
    def user(self) -> User:
        assert self.update.effective_user is not None
        return self.update.effective_user


Applied = tuple[str, tuple[Reply, ...]] | None


class ChatPipeline:
    """Applies updates to conversations; one instance per bot, shared by all chats."""

    def __init__(self, services: BotServices, bot_id: int) -> None:
        self._services = services
        self._bot_id = bot_id
        self._background: set[asyncio.Task[None]] = set()
        self._batcher: TurnBatcher[_Request, Applied] = TurnBatcher(
            self._apply_batch, self._apply_alone, key=lambda request: request.chat_id
        )

    async def process(self, update: Update, bot: Bot) -> None:
        incoming = to_input(update)
        chat = update.effective_chat
        user = update.effective_user
        if incoming is None or chat is None or user is None:
            return
        if update.callback_query is not None:
            # Only stops the button's spinner: the reply need not wait for that round trip.
            answering = asyncio.create_task(_answer_callback(update))
            self._background.add(answering)
            answering.add_done_callback(self._background.discard)
        if isinstance(incoming, Upload):
            replies = await self._process_upload(update, incoming, bot)
        else:
            replies = await self._apply(update, incoming)
        if replies is not None:
            await self._send(bot, chat.id, replies)

    async def _apply(self, update: Update, event: Event, upload: _Stored | None = None) -> Applied:
        """Claim the update and apply `event`; None when it was applied before."""
        if upload is not None:
            return (await self._apply_batch([_Request(update, event)], upload))[0]
        return await self._batcher.submit(_Request(update, event))

    async def _apply_alone(self, request: _Request) -> Applied:
        """One update in a transaction of its own (after its batch failed)."""
        return (await self._apply_batch([request]))[0]

    async def _apply_batch(
        self, batch: Sequence[_Request], upload: _Stored | None = None
    ) -> list[Applied]:
        """Updates of different chats in one transaction: claimed, loaded and saved together.
        `upload`, already sealed in the vault, belongs to a batch of one."""
        now = self._now()
        done: dict[int, tuple[_Turn, tuple[Reply, ...]]] = {}
        async with self._services.database.unit_of_work() as session:
            update_ids = [request.update.update_id for request in batch]
            claimed = await claim_updates(session, bot_id=self._bot_id, update_ids=update_ids)
            live = [request for request in batch if request.update.update_id in claimed]
            if live:
                senders = {request.chat_id: request.user.id for request in live}
                opened = await open_chats(session, senders)
                owned = await applications.of_applicants(
                    session, {chat.applicant_id for chat in opened.values()}
                )
                drafts = [chat.application_id for chat in opened.values() if chat.application_id]
                documents = await applications.active_document_types(session, drafts)
                for request in live:
                    chat = opened[request.chat_id]
                    turn = _Turn(session, chat, request.user.language_code, now, upload=upload)
                    turn.owned, turn.documents = owned[chat.applicant_id], documents
                    done[request.update.update_id] = (turn, await self._run(turn, request.event))
                answers = [answer for turn, _ in done.values() for answer in turn.answers]
                await applications.save_answers(session, answers)
                await save_chats(session, [turn.chat for turn, _ in done.values()], now=now)
                events = [entry for turn, _ in done.values() for entry in turn.audit]
                await audit.record_many(session, events)
        if upload is not None and not any(turn.attached for turn, _ in done.values()):
            self._services.vault.delete(upload.file.storage_name)
        results: list[Applied] = []
        for request in batch:
            if request.update.update_id not in done:
                results.append(None)
                continue
            turn, replies = done.pop(request.update.update_id)
            for name in turn.discarded_files:
                self._services.vault.delete(name)
            results.append((resolve_locale(turn.chat.locale, request.user.language_code), replies))
        return results

    async def _write_answers(self, turn: _Turn) -> None:
        """Send the turn's answer writes; they wait so that a batch sends them together."""
        await applications.save_answers(turn.session, turn.answers)
        turn.answers.clear()

    async def _write_audit(self, turn: _Turn) -> None:
        """Append the turn's audit events to the chain; they wait so that a batch appends them
        together, under one lock of the chain's head."""
        await audit.record_many(turn.session, turn.audit)
        turn.audit.clear()

    async def _run(self, turn: _Turn, event: Event) -> tuple[Reply, ...]:
        snapshot = await self._snapshot(turn)
        outcome = handle(snapshot, event)
        turn.chat.state = outcome.state
        turn.chat.context = outcome.context
        replies = list(outcome.replies)
        for effect in outcome.effects:
            reference = await self._effect(turn, effect)
            if reference is not None:
                snapshot = await self._snapshot(turn)
                follow_up = handle(snapshot, SubmissionRecorded(reference))
                turn.chat.state = follow_up.state
                turn.chat.context = follow_up.context
                replies.extend(follow_up.replies)
        return tuple(replies)

    async def _effect(self, turn: _Turn, effect: Effect) -> str | None:
        """Persist one effect; returns the new reference when the draft was submitted."""
        session, chat = turn.session, turn.chat
        if isinstance(effect, SaveAnswer):
            draft_id = await self._draft(turn, create=True)
            columns = self._services.drafts.columns(draft_id, effect.field, effect.value)
            turn.answers.append({"row_id": draft_id, **columns})
            return None
        # Whatever else an effect does comes after the answers given before it.
        await self._write_answers(turn)
        if isinstance(effect, SetLocale):
            await chats.set_locale(session, chat, effect.locale)
            if chat.application_id is not None:
                await applications.set_locale(session, chat.application_id, effect.locale)
        elif isinstance(effect, StartDraft):
            await self._draft(turn, create=True)
        elif isinstance(effect, RecordConsent):
            draft_id = await self._draft(turn, create=True)
            await applications.record_consent(
                session, draft_id, version=effect.version, now=turn.now
            )
            _audit(turn, "consent.recorded", draft_id, {"version": effect.version})
        elif isinstance(effect, AttachDocument):
            await self._attach(turn, await self._draft(turn, create=False), effect.doc_type)
        elif isinstance(effect, AttachInfoDocument):
            target_id = self._open_application_id(turn)
            await self._attach(turn, target_id, effect.doc_type)
            await self._write_audit(turn)  # casework appends its own events after these
            await casework.record_applicant_reply(
                session, self._services.drafts.cipher, application_id=target_id,
                text=None, document_type=effect.doc_type, now=turn.now,
            )  # fmt: skip
        elif isinstance(effect, ReplyToOfficer):
            await self._write_audit(turn)  # casework appends its own events after these
            await casework.record_applicant_reply(
                session, self._services.drafts.cipher,
                application_id=self._open_application_id(turn),
                text=effect.text, document_type=None, now=turn.now,
            )  # fmt: skip
        elif isinstance(effect, SubmitApplication):
            draft_id = await self._draft(turn, create=False)
            reference = await applications.submit(
                session, draft_id, now=turn.now, timezone=self._services.settings.timezone
            )
            chat.application_id = None
            _audit(turn, "application.submitted", draft_id, {"reference": reference})
            return reference
        elif isinstance(effect, DiscardDraft):
            await self._discard(turn)
        return None

    async def _draft(self, turn: _Turn, *, create: bool) -> int:
        """The id of the chat's draft application, created first if asked to."""
        chat = turn.chat
        if chat.application_id is None:
            if not create:
                raise LookupError("the conversation has no draft application")
            locale = resolve_locale(chat.locale, turn.telegram_language)
            chat.application_id = await self._services.drafts.start(
                turn.session, chat.applicant_id, locale
            )
        return chat.application_id

    @staticmethod
    def _open_application_id(turn: _Turn) -> int:
        if turn.open_application is None:
            raise LookupError("the applicant has no open application")
        return int(turn.open_application.id)

    async def _attach(self, turn: _Turn, application_id: int, doc_type: str) -> None:
        """Make the stored upload the application's active document of `doc_type`, replacing
        any earlier one."""
        upload = turn.upload
        if upload is None:
            raise LookupError("AttachDocument without a stored upload")
        for earlier in await applications.active_documents(turn.session, application_id):
            if earlier.doc_type == doc_type:
                earlier.replaced_at = turn.now
        document = Document(
            application_id=application_id,
            doc_type=doc_type,
            storage_name=upload.file.storage_name,
            content_type=upload.content_type,
            size=upload.file.size,
            telegram_file_unique_id=upload.file_unique_id,
            key_id=upload.file.key_id,
            created_at=turn.now,
        )
        turn.session.add(document)
        await turn.session.flush()
        details = {"document_id": document.id, "doc_type": doc_type,
                   "content_type": upload.content_type, "size": upload.file.size}  # fmt: skip
        _audit(turn, "document.received", application_id, details)
        turn.attached = True

    async def _discard(self, turn: _Turn) -> None:
        chat = turn.chat
        if chat.application_id is None:
            return
        draft_id = chat.application_id
        chat.application_id = None
        await save_chat(turn.session, chat, now=turn.now)  # unlinked before it is deleted
        turn.discarded_files.extend(await applications.delete_draft(turn.session, draft_id))
        _audit(turn, "draft.discarded", draft_id)

    async def _snapshot(self, turn: _Turn) -> Snapshot:
        """What the flow needs about this chat, in two queries (one without a draft)."""
        session, chat = turn.session, turn.chat
        owned, preloaded = turn.owned, turn.documents
        turn.owned = turn.documents = None  # loaded before this turn's effects: used once
        if owned is None:
            owned = (await applications.of_applicants(session, [chat.applicant_id]))[
                chat.applicant_id
            ]
        draft = next((a for a in owned if a.id == chat.application_id), None)
        documents: frozenset[str] = frozenset()
        answers = {}
        if draft is not None:
            answers = self._services.drafts.answers(draft)
            if preloaded is None or draft.id not in preloaded:
                preloaded = await applications.active_document_types(session, [draft.id])
            documents = preloaded[draft.id]
        zone = self._services.settings.timezone
        submitted = [a for a in owned if a.status != "draft"]
        infos = tuple(
            ApplicationInfo(
                a.reference,
                a.status,
                a.submitted_at.astimezone(zone) if a.submitted_at else None,
                a.amount,
            )
            for a in submitted
        )
        still_open = [a for a in submitted if a.status not in applications.FINAL_STATUSES]
        turn.open_application = still_open[-1] if still_open else None
        info_request = None
        if turn.open_application is not None and turn.open_application.status == "info_requested":
            info_request = await self._info_request(session, turn.open_application)
        return Snapshot(
            state=chat.state,
            context=dict(chat.context),
            locale=chat.locale,
            telegram_language=turn.telegram_language,
            answers=answers,
            documents=documents,
            applications=infos,
            has_draft=draft is not None,
            open_application_reference=still_open[-1].reference if still_open else None,
            today=turn.now.astimezone(zone).date(),
            info_request=info_request,
        )

    async def _info_request(
        self, session: AsyncSession, application: Row[Any]
    ) -> InfoRequest | None:
        request = await casework.open_information_request(
            session, self._services.drafts.cipher, application.id
        )
        if request is None or application.reference is None:
            return None
        return InfoRequest(
            reference=application.reference,
            documents_missing=tuple(d.value for d in request.missing_documents),
            question=request.question,
        )

    async def _process_upload(
        self, update: Update, upload: Upload, bot: Bot
    ) -> tuple[str, tuple[Reply, ...]] | None:
        assert update.effective_chat is not None and update.effective_user is not None
        expected, target_id, duplicate = await self._expectation(update, upload)
        if expected is None or target_id is None:
            return await self._apply(update, FileWithoutRequest())
        if duplicate:
            return await self._apply(update, DocumentRefused("duplicate"))
        try:
            check_declared_size(upload.file_size)
            telegram_file = await bot.get_file(upload.file_id)
            check_declared_size(telegram_file.file_size)
            data = bytes(await telegram_file.download_as_bytearray())
            kind = inspect(data)
        except UploadRefused as refusal:
            return await self._apply(update, DocumentRefused(refusal.reason.value))
        except TelegramError as error:
            log.warning("could not download an upload: %s", type(error).__name__)
            reason = Refusal.TOO_BIG if "too big" in str(error).lower() else Refusal.UNREADABLE
            return await self._apply(update, DocumentRefused(reason.value))
        stored = await self._services.vault.store_bytes(
            applications.document_record(target_id), data
        )
        pending = _Stored(expected, stored, kind.content_type, upload.file_unique_id)
        return await self._apply(update, DocumentAccepted(expected, upload.file_name), pending)

    async def _expectation(
        self, update: Update, upload: Upload
    ) -> tuple[str | None, int | None, bool]:
        """Which document the flow asks for, for which application, and whether it is a resend.

        The target is the draft, or the open application when the upload answers an officer's
        request for information.
        """
        assert update.effective_chat is not None and update.effective_user is not None
        user = update.effective_user
        async with self._services.database.unit_of_work() as session:
            chat = await open_chat(
                session, telegram_user_id=user.id, chat_id=update.effective_chat.id
            )
            turn = _Turn(session, chat, user.language_code, self._now())
            expected = expected_upload(await self._snapshot(turn))
            if expected is None:
                return None, None, False
            if expected.target == "draft":
                target_id = chat.application_id
            else:
                target_id = None if turn.open_application is None else turn.open_application.id
            if target_id is None:
                return None, None, False
            active = await applications.active_documents(session, target_id)
            duplicate = any(d.telegram_file_unique_id == upload.file_unique_id for d in active)
        return expected.doc_type, target_id, duplicate

    async def _send(self, bot: Bot, chat_id: int, result: tuple[str, tuple[Reply, ...]]) -> None:
        locale, replies = result
        for reply in replies:
            rendered = render_reply(reply, locale)
            try:
                await bot.send_message(
                    chat_id=chat_id,
                    text=rendered.text,
                    parse_mode="HTML",
                    reply_markup=rendered.markup,
                )
            except TelegramError as error:
                log.warning("reply to a chat failed: %s", type(error).__name__)
                return

    def _now(self) -> datetime:
        return self._services.clock()


async def _answer_callback(update: Update) -> None:
    """Stop the button's spinner; a failure here must not lose the press itself."""
    assert update.callback_query is not None
    try:
        await update.callback_query.answer()
    except TelegramError as error:
        log.info("could not answer a callback query: %s", type(error).__name__)


def _audit(
    turn: _Turn, action: str, application_id: int, details: dict[str, object] | None = None
) -> None:
    """Queue an audit event of the applicant's on an application for the end of the turn's
    transaction; an event that would hold personal data is refused here (ValueError)."""
    turn.audit.append(
        check_entry(
            actor_type="applicant", actor_id=str(turn.chat.applicant_id), action=action,
            subject_type="application", subject_id=str(application_id), details=details,
            now=turn.now,
        )
    )  # fmt: skip
