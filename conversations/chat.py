"""The machine's model for one chat and one event: reads the event, decides, records.

An `ApplicantChat` lives only while `flow.handle` runs. It starts from the stored snapshot,
collects effects and replies, and fires triggers on the shared machine; entering a state
calls `ask_question`, which asks that state's question under a fresh button token.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from transitions import EventData

from conversations import display, machine
from conversations.buttons import InfoPress, Press, parse_info, parse_language, parse_press
from conversations.effects import (
    MAX_MESSAGE_LENGTH,
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
    ButtonPress,
    Command,
    ContactShared,
    DocumentAccepted,
    DocumentRefused,
    Event,
    FileWithoutRequest,
    Start,
    SubmissionRecorded,
    Text,
    Unsupported,
)
from conversations.info_requests import request_details
from conversations.phrases import (
    ALREADY_DRAFTING,
    ANSWERS_MISSING,
    CHOOSE_BUTTON,
    CHOOSE_DOCUMENT_FIRST,
    CONSENT_THANKS,
    DISCARDED,
    DOCUMENT_RECEIVED,
    DOCUMENTS_MISSING,
    GREETING,
    HELP,
    INFO_COMPLETE,
    INFO_NOT_NEEDED,
    INFO_RECEIVED,
    INFO_SEND_FILE_NOT_TEXT,
    LANGUAGE_CHANGED,
    MESSAGE_TOO_LONG,
    NO_DRAFT,
    NOT_ASKING_PHONE,
    NOT_EXPECTING_FILE,
    ONE_OPEN,
    PASSED_TO_OFFICER,
    PHONE_SAVED,
    REFUSALS,
    REFUSED_OTHER,
    SEND_FILE_NOT_TEXT,
    SENT_TO_OFFICER,
    SOMEONE_ELSES,
    STALE,
    SUBMITTED,
    TAP_CONTACT,
    UNSUPPORTED,
    WELCOME_BACK,
    WELCOME_BACK_IDLE,
    WHAT_NEXT,
)
from conversations.questions import (
    CHOICE_KINDS,
    CHOOSE_LANGUAGE,
    CONSENT_VERSION,
    DRAFT_KEPT,
    Situation,
    ask,
    language_buttons,
    summary_fields,
)
from conversations.replies import Button, Masked, Message, Reply, Value
from conversations.snapshot import Snapshot
from conversations.statuses import status_reply
from conversations.validation import TEXT_FIELDS, Rejection, parse_answer, rejection_lines
from lending.answers import InvalidAnswer, parse_mobile
from lending.masking import mask_phone
from lending.products import DocumentType, ProductLimits, SecurityType
from locales import SUPPORTED, from_language_code

# States outside the seven steps, where a command's answer is not followed by a question.
_NO_QUESTION = ("new", "idle", "submitting")


class ApplicantChat:
    """One chat during one event: the model the shared machine moves between states."""

    state: str  # kept by the machine

    def __init__(self, snapshot: Snapshot, limits: ProductLimits) -> None:
        self.snapshot = snapshot
        self.limits = limits
        self.context: dict[str, Any] = dict(snapshot.context)
        self.answers: dict[str, str | int | Decimal] = dict(snapshot.answers)
        self.documents: set[str] = set(snapshot.documents)
        self.locale = snapshot.locale
        self.effects: list[Effect] = []
        self.replies: list[Reply] = []
        self._preface: tuple[Message, ...] = ()
        self._quiet = False

    # --- conditions named in machine.TRANSITIONS ---------------------------------------------

    def editing(self, event: EventData) -> bool:
        return bool(self.context.get("editing"))

    def needs_security_details(self, event: EventData) -> bool:
        return display.security_type(self.answers) is not SecurityType.NONE

    def documents_complete(self, event: EventData) -> bool:
        return not display.missing_documents(self.answers, self.documents)

    @property
    def resume_state(self) -> str | None:
        value = self.context.get("resume")
        return value if isinstance(value, str) else None

    # --- the machine's after_state_change callback -------------------------------------------

    def ask_question(self, event: EventData | None = None) -> None:
        """Entering a state asks its question; older buttons stop being current."""
        self.context["q"] = self._token() + 1
        self._tidy_context()
        preface, self._preface = self._preface, ()
        if self._quiet or self.state in ("new", "submitting"):
            return
        if self.state == "idle":
            if preface:
                self.replies.append(Reply(preface, remove_keyboard=True))
            return
        self.replies.append(ask(self._situation(), preface))

    # --- events ------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if self.state == "submitting" and not isinstance(event, SubmissionRecorded):
            self._recover_submission()
        match event:
            case Start():
                self._on_start()
            case Command(name=name):
                self._on_command(name)
            case Text(text=text):
                self._on_text(text)
            case ButtonPress(data=data):
                self._on_button(data)
            case ContactShared():
                self._on_contact(event)
            case Unsupported():
                self._on_other(Message(UNSUPPORTED))
            case DocumentAccepted(doc_type=doc_type):
                self._on_document(doc_type)
            case DocumentRefused(reason=reason):
                refusal = Message(REFUSALS.get(reason, REFUSED_OTHER))
                if self.state == "info_upload":
                    # As in the documents step: back to the list, to choose the document again.
                    self._fire("info_document_refused")
                    self._reask(refusal)
                else:
                    self._on_other(refusal, "document_refused")
            case FileWithoutRequest():
                first = CHOOSE_DOCUMENT_FIRST if self._choosing_document() else NOT_EXPECTING_FILE
                self._on_other(Message(first))
            case SubmissionRecorded(reference=reference):
                if self.state == "submitting":
                    submitted = Message(SUBMITTED, {"reference": reference})
                    self._fire("recorded", submitted, Message(WHAT_NEXT))

    def _on_start(self) -> None:
        if self.state == "new":
            self._greet()
        elif self.state == "idle":
            self._reask(Message(WELCOME_BACK_IDLE))
        else:
            self._reask(Message(WELCOME_BACK))

    def _on_command(self, name: str) -> None:
        if name == "apply":
            self._apply()
        elif name == "cancel":
            self._cancel()
        elif name == "language":
            chosen = self._language()
            self.replies.append(Reply((Message(CHOOSE_LANGUAGE),), language_buttons(chosen)))
        elif name == "status":
            self.replies.append(
                status_reply(
                    self.snapshot.applications,
                    has_draft=self.snapshot.has_draft,
                    info_request=self.snapshot.info_request,
                )
            )
            self._reask_unless_idle()
        else:
            self.replies.append(Reply((Message(HELP),)))
            self._reask_unless_idle()

    def _on_text(self, text: str) -> None:
        state = self.state
        if state == "new":
            self._greet()
        elif state in TEXT_FIELDS:
            self._answer(state, text)
        elif state == "phone":
            self._reask(Message(TAP_CONTACT))
        elif state == "document_upload":
            self._reask(Message(SEND_FILE_NOT_TEXT))
        elif state == "info_upload":
            self._reask(Message(INFO_SEND_FILE_NOT_TEXT))
        elif state == "info_answer":
            self._tell_officer(text, Message(SENT_TO_OFFICER), trigger="officer_answered")
        elif state == "idle":
            self._idle_text(text)
        else:
            self._reask(Message(CHOOSE_BUTTON))

    def _on_button(self, data: str) -> None:
        locale = parse_language(data)
        if locale is not None and locale in SUPPORTED:
            self._choose_language(locale)
            return
        info = parse_info(data)
        if info is not None:
            self._on_info_button(info)
            return
        if self.state == "new":
            self._greet()
            return
        press = parse_press(data)
        if press is None or press.token != self._token() or not self._press(press):
            self._reask(Message(STALE))

    def _on_contact(self, contact: ContactShared) -> None:
        if self.state == "new":
            self._greet()
        elif self.state != "phone":
            self._reask(Message(NOT_ASKING_PHONE))
        elif not contact.is_own:
            self._reask(Message(SOMEONE_ELSES))
        else:
            try:
                number = parse_mobile(contact.phone)
            except InvalidAnswer as invalid:
                self._refuse(rejection_lines(invalid))
                return
            self._save("phone", number)
            saved = Message(PHONE_SAVED, {"phone": Masked(mask_phone(number))})
            self.replies.append(Reply((saved,), remove_keyboard=True))
            self._fire("answered")

    def _on_document(self, doc_type: str) -> None:
        if self.state == "info_upload":
            self._on_info_document(doc_type)
            return
        kind = display.choice(DocumentType, doc_type) or display.choice(
            DocumentType, str(self.context.get("doc_type", ""))
        )
        if self.state != "document_upload" or not isinstance(kind, DocumentType):
            self._on_other(Message(NOT_EXPECTING_FILE))
            return
        self.effects.append(AttachDocument(kind.value))
        self.documents.add(kind.value)
        received = Message(DOCUMENT_RECEIVED, {"document": display.document_label(kind)})
        self._fire("document_received", received)

    def _on_other(self, reason: Message, upload_trigger: str | None = None) -> None:
        """Input that answers nothing: explain, and show where we are."""
        if self.state == "new":
            self._greet()
        elif upload_trigger is not None and self.state == "document_upload":
            self._fire(upload_trigger, reason)
        else:
            self._reask(reason)

    # --- commands ----------------------------------------------------------------------------

    def _apply(self) -> None:
        state, snapshot = self.state, self.snapshot
        if state == "new":
            self._greet()
        elif state in ("language", "consent"):
            self._reask(Message(WELCOME_BACK))
        elif state not in ("idle", "consent_declined", *machine.INFO_STATES):
            self._reask(Message(ALREADY_DRAFTING))
        elif snapshot.has_draft:
            self._resume_draft()
        elif (reference := self._open_reference()) is not None:
            self.replies.append(Reply((Message(ONE_OPEN, {"reference": reference}),)))
            if state in machine.INFO_STATES:
                self._reask()
        elif self.locale is None:
            self._fire("begin")
        else:
            self._fire("restart")

    def _cancel(self) -> None:
        if self.state in machine.INFO_STATES:
            self._leave_info()
        elif self.state in machine.DRAFT_STATES:
            self.context["resume"] = self.state
            self._fire("cancel")
        elif self.state == "confirm_cancel":
            self._reask()
        elif self.state == "new":
            self.replies.append(Reply((Message(NO_DRAFT),)))
        else:
            self._reask(Message(NO_DRAFT))

    def _choose_language(self, locale: str) -> None:
        if locale != self.locale:
            self.effects.append(SetLocale(locale))
            self.locale = locale
        if self.state in ("new", "language"):
            self._fire("language_chosen")
        else:
            self._reask(Message(LANGUAGE_CHANGED))

    # --- answers and buttons -----------------------------------------------------------------

    def _answer(self, field: str, text: str) -> None:
        try:
            value = parse_answer(field, text, today=self.snapshot.today, limits=self.limits)
        except Rejection as rejection:
            self._refuse(rejection.lines)
            return
        self._save(field, value)
        self._fire("answered")

    def _press(self, press: Press) -> bool:
        """Act on a current question's button; False when it makes no sense here."""
        state, kind, value = self.state, press.kind, press.value
        field = CHOICE_KINDS.get(kind)
        if field is not None and field == state:
            return self._choose(field, value)
        actions = {
            ("consent", "consent", "yes"): self._agree,
            ("consent", "consent", "no"): lambda: self._fire("decline"),
            ("consent_declined", "consent", "again"): lambda: self._fire("reread"),
            ("documents", "docs", "done"): self._finish_documents,
            ("document_upload", "upl", "back"): lambda: self._fire("back_to_checklist"),
            ("summary", "sum", "edit"): lambda: self._fire("edit"),
            ("summary", "sum", "submit"): self._submit,
            ("edit_choice", "edit", "back"): lambda: self._fire("back_to_summary"),
            ("confirm_cancel", "cancel", "yes"): self._discard,
            ("confirm_cancel", "cancel", "no"): self._keep,
            ("info_upload", "info", "back"): self._leave_info,
            ("info_answer", "info", "back"): self._leave_info,
        }
        action = actions.get((state, kind, value))
        if action is not None:
            action()
            return True
        if (state, kind) == ("documents", "doc"):
            return self._choose_document(value)
        if (state, kind) == ("edit_choice", "edit"):
            return self._edit(value)
        return False

    def _choose(self, field: str, value: str) -> bool:
        member = display.choice(display.CHOICE_ENUMS[field], value)
        if member is None:
            return False
        self._save(field, member.value)
        if member is SecurityType.NONE and self.answers.get("security_details"):
            self._save("security_details", "")
        self._fire("answered")
        return True

    def _agree(self) -> None:
        if not self.snapshot.has_draft:
            self.effects.append(StartDraft())
        self.effects.append(RecordConsent(CONSENT_VERSION))
        self._fire("agree", Message(CONSENT_THANKS))

    def _choose_document(self, value: str) -> bool:
        kind = display.choice(DocumentType, value)
        if kind is None:
            return False
        self.context["doc_type"] = kind.value
        self._fire("choose_document")
        return True

    def _finish_documents(self) -> None:
        missing = display.missing_documents(self.answers, self.documents)
        if missing:
            self._reask(Message(DOCUMENTS_MISSING), *_missing_lines(missing))
        else:
            self._fire("documents_done")

    def _edit(self, target: str) -> bool:
        if target not in (*summary_fields(self.answers), "documents"):
            return False
        if target != "documents":
            self.context["editing"] = True
        self._fire(f"edit_{target}")
        return True

    def _submit(self) -> None:
        reference = self.snapshot.open_application_reference
        missing = display.missing_documents(self.answers, self.documents)
        if reference is not None:
            self._reask(Message(ONE_OPEN, {"reference": reference}))
        elif any(self.answers.get(name) in (None, "") for name in summary_fields(self.answers)):
            self._reask(Message(ANSWERS_MISSING))
        elif missing:
            # The machine sends an incomplete application back to the checklist.
            self._fire("submit", Message(DOCUMENTS_MISSING), *_missing_lines(missing))
        else:
            self.effects.append(SubmitApplication())
            self._fire("submit")

    def _discard(self) -> None:
        self.effects.append(DiscardDraft())
        self._fire("discard", Message(DISCARDED))

    def _keep(self) -> None:
        if not self._fire("keep"):
            self._resume_draft()

    # --- an officer's request for information, and the thread -------------------------------

    def _on_info_button(self, press: InfoPress) -> None:
        """A request notice's button: valid whatever was asked since, while the request is open."""
        request = self.snapshot.info_request
        if request is None:
            if self.state == "new":
                self._greet()
            else:
                self._reask(Message(STALE))
            return
        if press.doc_type is None:
            if request.question:
                self._fire("answer_officer")
            else:
                self._reask(Message(STALE))
            return
        kind = display.choice(DocumentType, press.doc_type)
        if not isinstance(kind, DocumentType):
            self._reask(Message(STALE))
        elif kind.value not in request.documents_missing:
            name = display.document_label(kind)
            params: dict[str, Value] = {"document": name, "reference": request.reference}
            self._reask(Message(INFO_NOT_NEEDED, params))
        else:
            self.context["doc_type"] = kind.value
            self._fire("send_requested_document")

    def _on_info_document(self, doc_type: str) -> None:
        request = self.snapshot.info_request
        kind = display.choice(DocumentType, doc_type) or display.choice(
            DocumentType, str(self.context.get("doc_type", ""))
        )
        if request is None or not isinstance(kind, DocumentType):
            self._reask(Message(NOT_EXPECTING_FILE))
            return
        self.effects.append(AttachInfoDocument(kind.value))
        self._fire("info_document_received")
        received = Message(
            INFO_RECEIVED,
            {"document": display.document_label(kind), "reference": request.reference},
        )
        still = tuple(value for value in request.documents_missing if value != kind.value)
        lines: tuple[Message, ...] = (Message(INFO_COMPLETE),)
        buttons: tuple[tuple[Button, ...], ...] = ()
        if still:
            lines, buttons = request_details(still, request.question)
        self.replies.append(Reply((received, *lines, *self._draft_kept()), buttons))

    def _idle_text(self, text: str) -> None:
        """Typed while idle: an answer to the officer's question, or a message to the thread."""
        request, reference = self.snapshot.info_request, self._open_reference()
        if reference is None:
            self._reask()
        elif request is not None and request.question:
            self._tell_officer(text, Message(SENT_TO_OFFICER))
        else:
            self._tell_officer(text, Message(PASSED_TO_OFFICER, {"reference": reference}))

    def _tell_officer(self, text: str, confirmation: Message, trigger: str | None = None) -> None:
        body = text.strip()
        if not body:
            self._reask()
            return
        if len(body) > MAX_MESSAGE_LENGTH:
            self._reask(
                Message(MESSAGE_TOO_LONG, {"length": len(body), "maximum": MAX_MESSAGE_LENGTH})
            )
            return
        self.effects.append(ReplyToOfficer(body))
        if trigger is not None:
            self._fire(trigger)
        # Whatever documents the request still waits for stay one tap away.
        request = self.snapshot.info_request
        lines: tuple[Message, ...] = ()
        buttons: tuple[tuple[Button, ...], ...] = ()
        if request is not None and request.documents_missing:
            lines, buttons = request_details(request.documents_missing, None)
        self.replies.append(Reply((confirmation, *lines, *self._draft_kept()), buttons))

    def _leave_info(self) -> None:
        """Back from an info step ("Not now", /cancel) to the request's list; drafts untouched."""
        self._fire("info_back")
        self._reask()

    def _choosing_document(self) -> bool:
        if self.state == "documents":
            return True
        request = self.snapshot.info_request
        return self.state == "idle" and request is not None and bool(request.documents_missing)

    def _draft_kept(self) -> tuple[Message, ...]:
        return (Message(DRAFT_KEPT),) if self.snapshot.has_draft else ()

    def _open_reference(self) -> str | None:
        reference = self.snapshot.open_application_reference
        request = self.snapshot.info_request
        if reference is None and request is not None:
            return request.reference
        return reference

    # --- plumbing ----------------------------------------------------------------------------

    def _greet(self) -> None:
        self._fire("begin", Message(GREETING))

    def _fire(self, trigger: str, *preface: Message) -> bool:
        self._preface = preface
        fired = machine.fire(self, trigger)
        self._preface = ()
        return fired

    def _reask(self, *preface: Message) -> None:
        """Ask the current question again under the same token (its buttons stay valid)."""
        self.replies.append(ask(self._situation(), preface))

    def _refuse(self, reasons: tuple[Message, ...]) -> None:
        """An answer not accepted: the reasons and an example, then the same question."""
        self.replies.append(ask(self._situation(), reasons, with_example=False))

    def _reask_unless_idle(self) -> None:
        if self.state not in _NO_QUESTION:
            self._reask()

    def _save(self, field: str, value: str | int | Decimal) -> None:
        self.effects.append(SaveAnswer(field, value))
        self.answers[field] = value

    def _resume_draft(self) -> None:
        """Back to the first open point of a draft whose place in the flow was lost."""
        unanswered = [name for name in summary_fields(self.answers) if name not in self.answers]
        if unanswered:
            target = unanswered[0]
        elif display.missing_documents(self.answers, self.documents):
            target = "documents"
        else:
            target = "summary"
        machine.MACHINE.set_state(target, model=self)
        self._preface = (Message(ALREADY_DRAFTING),)
        self.ask_question()

    def _recover_submission(self) -> None:
        """A submission whose confirmation never came back: settle it before the event."""
        self._quiet = True
        if self.snapshot.open_application_reference is not None:
            self._fire("recorded")
        else:
            self._fire("submission_lost")
        self._quiet = False

    def _token(self) -> int:
        token = self.context.get("q", 0)
        return token if isinstance(token, int) and token >= 0 else 0

    def _tidy_context(self) -> None:
        if self.state != "confirm_cancel":
            self.context.pop("resume", None)
        if self.state not in ("document_upload", "confirm_cancel", "info_upload"):
            self.context.pop("doc_type", None)
        if self.state in ("summary", "idle", *machine.INFO_STATES):
            self.context.pop("editing", None)

    def _language(self) -> str:
        """The language to tick on language buttons: the stored choice, else Telegram's."""
        if self.locale is not None and self.locale in SUPPORTED:
            return self.locale
        return from_language_code(self.snapshot.telegram_language)

    def _situation(self) -> Situation:
        doc_type = self.context.get("doc_type")
        return Situation(
            state=self.state,
            token=self._token(),
            answers=self.answers,
            documents=frozenset(self.documents),
            doc_type=doc_type if isinstance(doc_type, str) else None,
            editing=bool(self.context.get("editing")),
            language=self._language(),
            limits=self.limits,
            open_reference=self._open_reference(),
            has_draft=self.snapshot.has_draft,
            info_request=self.snapshot.info_request,
        )


def _missing_lines(missing: tuple[DocumentType, ...]) -> tuple[Message, ...]:
    return tuple(
        Message(display.MISSING_LINE, {"document": display.document_label(kind)})
        for kind in missing
    )
