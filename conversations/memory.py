"""An in-memory chat that applies effects the way the Telegram adapter does.

For unit tests and for trying the conversation in a REPL: it keeps what the database would
keep, turns each outcome's effects into the next snapshot, and feeds `SubmissionRecorded`
back after `SubmitApplication` just as the adapter does within one update.

`officer_requests` plays the back-office's `decisions.request_information`: the open
application waits for information, and the notice (with its buttons) becomes the last reply.
A request is answered as `decisions.record_applicant_reply` decides: every requested document
sent again, or, for a question-only request, any text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from conversations.display import missing_documents
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
    ButtonPress,
    ContactShared,
    DocumentAccepted,
    Event,
    Start,
    SubmissionRecorded,
    Text,
)
from conversations.flow import ApplicationInfo, InfoRequest, Outcome, Snapshot, handle
from conversations.info_requests import info_request_reply
from conversations.replies import Button, Reply

_FINAL_STATUSES = ("rejected", "closed", "withdrawn", "repaid", "draft")


@dataclass
class OpenRequest:
    """An officer's request as the back-office keeps it: what was asked, what came back."""

    documents: tuple[str, ...]
    question: str | None
    received: set[str] = field(default_factory=set)

    def missing(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.documents if kind not in self.received)


@dataclass
class InMemoryChat:
    """One applicant's stored state, updated by the effects of each handled event."""

    today: date
    telegram_language: str | None = None
    state: str = "new"
    context: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None
    answers: dict[str, str | int | Decimal] = field(default_factory=dict)
    documents: set[str] = field(default_factory=set)
    applications: list[ApplicationInfo] = field(default_factory=list)
    has_draft: bool = False
    consent_version: str | None = None
    applied: list[Effect] = field(default_factory=list)
    submitted_answers: list[dict[str, str | int | Decimal]] = field(default_factory=list)
    request: OpenRequest | None = None
    thread: list[str] = field(default_factory=list)
    info_documents: list[str] = field(default_factory=list)
    last: tuple[Reply, ...] = ()

    def snapshot(self) -> Snapshot:
        return Snapshot(
            state=self.state,
            context=dict(self.context),
            locale=self.locale,
            telegram_language=self.telegram_language,
            answers=dict(self.answers),
            documents=frozenset(self.documents),
            applications=tuple(self.applications),
            has_draft=self.has_draft,
            open_application_reference=self.open_reference(),
            today=self.today,
            info_request=self.info_request(),
        )

    def open_reference(self) -> str | None:
        index = self._open_index()
        return None if index is None else self.applications[index].reference

    def info_request(self) -> InfoRequest | None:
        index = self._open_index()
        if self.request is None or index is None:
            return None
        application = self.applications[index]
        if application.status != "info_requested" or application.reference is None:
            return None
        return InfoRequest(application.reference, self.request.missing(), self.request.question)

    def officer_requests(self, documents: tuple[str, ...], question: str | None = None) -> Reply:
        """An officer asks for information on the open application; the notice arrives."""
        reference = self.open_reference()
        if reference is None:
            raise LookupError("no open application to ask about")
        self.request = OpenRequest(documents, question)
        self._set_status("info_requested")
        notice = info_request_reply(reference, documents, question)
        self.last = (notice,)
        return notice

    def _open_index(self) -> int | None:
        for index, info in enumerate(self.applications):
            if info.status not in _FINAL_STATUSES:
                return index
        return None

    def _set_status(self, status: str) -> None:
        index = self._open_index()
        if index is None:
            raise LookupError("no open application")
        self.applications[index] = replace(self.applications[index], status=status)

    def _answered(self, *, by_text: bool) -> None:
        """Back to review once the request is answered, as the back-office decides it."""
        request = self.request
        if request is None or self.info_request() is None:
            return
        if (request.documents and not request.missing()) or (not request.documents and by_text):
            self.request = None
            self._set_status("under_review")

    def send(self, event: Event) -> tuple[Reply, ...]:
        """Handle `event` like the adapter does; the replies of the whole update."""
        outcome = self._apply(handle(self.snapshot(), event))
        replies = outcome.replies
        if any(isinstance(effect, SubmitApplication) for effect in outcome.effects):
            reference = f"SME-{self.today.year}-{len(self.applications):06d}"
            replies += self._apply(handle(self.snapshot(), SubmissionRecorded(reference))).replies
        self.last = replies
        return replies

    def buttons(self) -> list[Button]:
        """Every inline button of the last update's replies."""
        return [button for reply in self.last for row in reply.buttons for button in row]

    def press(self, label: str) -> tuple[Reply, ...]:
        """Press the last-shown button whose label has this message id."""
        matches = [button for button in self.buttons() if button.label.msgid == label]
        if not matches:
            raise LookupError(f"no button labelled {label!r}")
        return self.send(ButtonPress(matches[-1].data))

    def press_value(self, kind: str, value: str) -> tuple[Reply, ...]:
        """Press the last-shown question button of `kind` carrying `value`."""
        suffix = f":{kind}:{value}"
        matches = [button for button in self.buttons() if button.data.endswith(suffix)]
        if not matches:
            raise LookupError(f"no button for {suffix!r}")
        return self.send(ButtonPress(matches[-1].data))

    def answer_current(self) -> tuple[Reply, ...]:
        """Give the sample answer to the question being asked now."""
        state = self.state
        if state in SAMPLE_TEXTS:
            return self.send(Text(SAMPLE_TEXTS[state]))
        if state in SAMPLE_CHOICES:
            return self.press_value(*SAMPLE_CHOICES[state])
        if state == "phone":
            return self.send(ContactShared(SAMPLE_PHONE, is_own=True))
        if state == "language":
            return self.send(ButtonPress("lang:en"))
        if state == "consent":
            return self.press_value("consent", "yes")
        if state == "documents":
            missing = [kind for kind in self._required_documents() if kind not in self.documents]
            if not missing:
                return self.press_value("docs", "done")
            self.press_value("doc", missing[0])
            return self.send(DocumentAccepted(missing[0], f"{missing[0]}.pdf"))
        if state == "summary":
            return self.press_value("sum", "submit")
        if state == "info_upload":
            return self.send(DocumentAccepted(str(self.context["doc_type"]), "copy.pdf"))
        if state == "info_answer":
            return self.send(Text(SAMPLE_OFFICER_ANSWER))
        raise LookupError(f"no sample answer in state {state!r}")

    def advance_to(self, state: str) -> tuple[Reply, ...]:
        """Answer question after question with the samples until the chat reaches `state`."""
        if self.state == "new":
            self.send(Start())
        for _ in range(100):
            if self.state == state:
                return self.last
            self.answer_current()
        raise LookupError(f"never reached {state!r}")

    def _required_documents(self) -> tuple[str, ...]:
        return tuple(kind.value for kind in missing_documents(self.answers, frozenset()))

    def _apply(self, outcome: Outcome) -> Outcome:
        for effect in outcome.effects:
            self._apply_effect(effect)
        self.state = outcome.state
        self.context = dict(outcome.context)
        return outcome

    def _apply_effect(self, effect: Effect) -> None:
        self.applied.append(effect)
        match effect:
            case SetLocale(locale=locale):
                self.locale = locale
            case RecordConsent(version=version):
                self.consent_version = version
            case StartDraft():
                self.has_draft, self.answers, self.documents = True, {}, set()
            case SaveAnswer(field=name, value=value):
                if value == "":
                    self.answers.pop(name, None)
                else:
                    self.answers[name] = value
            case AttachDocument(doc_type=doc_type):
                self.documents.add(doc_type)
            case AttachInfoDocument(doc_type=doc_type):
                self.info_documents.append(doc_type)
                if self.request is not None:
                    self.request.received.add(doc_type)
                self._answered(by_text=False)
            case ReplyToOfficer(text=text):
                self.thread.append(text)
                self._answered(by_text=True)
            case SubmitApplication():
                number = len(self.applications) + 1
                amount = self.answers.get("amount")
                self.applications.append(
                    ApplicationInfo(
                        reference=f"SME-{self.today.year}-{number:06d}",
                        status="submitted",
                        submitted_at=datetime.combine(self.today, time(9, 30)),
                        amount=amount if isinstance(amount, Decimal) else None,
                    )
                )
                self.submitted_answers.append(dict(self.answers))
                self.has_draft, self.answers, self.documents = False, {}, set()
            case DiscardDraft():
                self.has_draft, self.answers, self.documents = False, {}, set()


# A valid answer to every question, as an applicant would type or tap it.
SAMPLE_TEXTS = {
    "company_name": "杭州示例科技有限公司",
    "credit_code": "91350100M000100Y43",
    "years_in_operation": "5",
    "employees": "12人",
    "annual_revenue": "300万",
    "owner_name": "张伟",
    "owner_id_number": "330106198001011235",
    "amount": "30万",
    "term_months": "24个月",
    "security_details": "Factory building in Suzhou, about 200万",
}
SAMPLE_CHOICES = {
    "industry": ("ind", "manufacturing"),
    "purpose": ("pur", "working_capital"),
    "repayment_method": ("rep", "equal_instalments"),
    "security_type": ("sec", "collateral"),
}
SAMPLE_PHONE = "+86 139 0571 2468"
SAMPLE_OFFICER_ANSWER = "Revenue fell because our largest customer paid late; it has now paid."
