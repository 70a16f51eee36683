"""The question each state asks: progress line, prompt, example, buttons or contact keyboard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from conversations import display
from conversations.buttons import language_data, question_data
from conversations.effects import ANSWER_FIELDS, MAX_MESSAGE_LENGTH
from conversations.info_requests import OFFICER_ASKS, open_request_details
from conversations.progress import progress_line
from conversations.replies import Button, Message, Money, Reply, Value
from conversations.snapshot import InfoRequest
from conversations.validation import DETAILS_EXAMPLE
from lending.products import (
    DocumentType,
    ProductLimits,
    SecurityType,
    label,
)
from locales import N_, SUPPORTED

CONSENT_VERSION = "2026-11"

LANGUAGE_NAMES = {"en": "English", "zh_Hans": "简体中文"}

EXAMPLE = N_("e.g. {example}")
CHOSEN_LANGUAGE = N_("✓ {language}")
OTHER_LANGUAGE = N_("{language}")
CHOOSE_LANGUAGE = N_("Which language would you like to use? 请选择语言。")

CONSENT_NOTICE = N_(
    "Privacy notice (version {version})\n"
    "To assess your loan application we collect your company's details, the owner's name, "
    "resident ID number and mobile phone, the loan you ask for and the documents you send. "
    "We use them only to assess and manage your loan, keep them encrypted, show them only to "
    "the loan officers handling your application, and keep them as long as the law requires. "
    "You may ask us to see or correct them at any time."
)
CONSENT_QUESTION = N_("Do you agree that we process your data for this purpose?")
AGREE = N_("I agree")
DISAGREE = N_("I do not agree")
CONSENT_DECLINED = N_(
    "We understand. Without your consent we cannot process a loan application, because we "
    "need these details to assess it. If you change your mind, you can read the notice again."
)
READ_AGAIN = N_("Read the privacy notice again")

CURRENT_ANSWER = N_("Current answer: {value}")
SHARE_PHONE = N_("📱 Share my phone number")

DOCUMENTS_INTRO = N_(
    "Documents: tap a document to send it. Any order is fine; send each as a PDF file or a photo."
)
CONTINUE_TO_SUMMARY = N_("Continue to summary")
SEND_DOCUMENT = N_("Please send this document as a PDF file or a photo: {document}")
BACK_TO_CHECKLIST = N_("Back to the checklist")

SUMMARY_INTRO = N_("Please check your application before you submit it:")
DOCUMENTS_RECEIVED = N_("Documents received:")
NO_DOCUMENTS = N_("No documents received yet.")
EDIT_ANSWER = N_("Edit an answer")
SUBMIT = N_("Submit application")
WHICH_ANSWER = N_("Which answer would you like to change?")
BACK_TO_SUMMARY = N_("Back to the summary")

DISCARD_QUESTION = N_("Discard your draft application? Your answers and documents will be deleted.")
DISCARD = N_("Yes, discard")
KEEP = N_("No, continue")

IDLE_OPEN = N_(
    "Your application {reference} is with our loan officers. Send /status to see where it "
    "stands, or /help for the commands."
)
IDLE = N_("Send /apply to start a loan application, or /help for the commands.")
DRAFT_KEPT = N_("Your draft application is kept — send /apply to continue it.")

INFO_SEND_DOCUMENT = N_(
    "Please send {document} for application {reference} as a PDF file or a photo."
)
INFO_TYPE_ANSWER = N_("Please type your answer in one message (at most {maximum} characters).")
NOT_NOW = N_("Not now")


@dataclass(frozen=True)
class Prompt:
    """A typed-answer question and the example shown under it."""

    question: str
    example: Value
    params: Mapping[str, Value] = field(default_factory=dict)


TEXT_PROMPTS: Mapping[str, Prompt] = {
    "company_name": Prompt(
        N_("What is your company's registered name, as on the business licence?"),
        "深圳市小微科技有限公司",
    ),
    "credit_code": Prompt(
        N_(
            "What is the company's unified social credit code? It has 18 characters and is "
            "printed on the business licence."
        ),
        "91350100M000100Y43",
    ),
    "years_in_operation": Prompt(
        N_("How many full years has the company been operating? (0 if less than one year)"),
        "5",
    ),
    "employees": Prompt(N_("How many employees does the company have?"), "12"),
    "annual_revenue": Prompt(
        N_("What was the company's revenue last year, in yuan?"),
        Message(N_("300万 or 3000000")),
    ),
    "owner_name": Prompt(N_("What is the full name of the owner (legal representative)?"), "张伟"),
    "owner_id_number": Prompt(
        N_("What is the owner's resident ID number? It has 18 characters."),
        "11010519491231002X",
    ),
}

CHOICE_QUESTIONS = {
    "industry": (N_("Which industry is your company in?"), "ind"),
    "purpose": (N_("What will you use the loan for?"), "pur"),
    "repayment_method": (N_("How would you like to repay the loan?"), "rep"),
    "security_type": (N_("Can you offer security for the loan?"), "sec"),
}
# Kind of button → the answer field it fills.
CHOICE_KINDS = {kind: name for name, (_, kind) in CHOICE_QUESTIONS.items()}

PHONE_QUESTION = N_(
    "Please share the owner's mobile phone number: tap the button below. "
    "It must be the number of this Telegram account."
)
AMOUNT_QUESTION = N_("How much would you like to borrow? Between {minimum} and {maximum}.")
TERM_QUESTION = N_(
    "Over how many months would you like to repay? Between {minimum} and {maximum} months."
)
COLLATERAL_QUESTION = N_(
    "Please describe the collateral briefly: what it is, where it is, and its approximate value."
)
GUARANTOR_QUESTION = N_(
    "Who will guarantee the loan? Please give their name and relationship to your company."
)


@dataclass(frozen=True)
class Situation:
    """What a question needs to know about the chat to be asked."""

    state: str
    token: int
    answers: Mapping[str, str | int | Decimal]
    documents: frozenset[str]
    doc_type: str | None
    editing: bool
    language: str
    limits: ProductLimits
    open_reference: str | None
    has_draft: bool = False
    info_request: InfoRequest | None = None


def ask(
    situation: Situation, preface: tuple[Message, ...] = (), *, with_example: bool = True
) -> Reply:
    """The message that asks the current question, after any `preface` lines.

    A re-ask after a refusal leaves out the question's own example, since the refusal
    already ends with one.
    """
    state = situation.state
    progress = progress_line(state)
    head = (*preface, progress) if progress is not None else preface
    body, buttons, contact = _question(situation)
    if not with_example:
        body = tuple(line for line in body if line.msgid != EXAMPLE)
    current = _current_answer(situation)
    return Reply(
        lines=(*head, *body[:1], *current, *body[1:]),
        buttons=buttons,
        contact_keyboard=contact,
        remove_keyboard=state == "idle",
    )


def language_buttons(chosen: str) -> tuple[tuple[Button, ...], ...]:
    """One button per language, the preselected one first and ticked."""
    order = sorted(SUPPORTED, key=lambda locale: locale != chosen)
    return (
        tuple(
            Button(
                Message(
                    CHOSEN_LANGUAGE if locale == chosen else OTHER_LANGUAGE,
                    {"language": LANGUAGE_NAMES[locale]},
                ),
                language_data(locale),
            )
            for locale in order
        ),
    )


Body = tuple[tuple[Message, ...], tuple[tuple[Button, ...], ...], Message | None]


def _question(s: Situation) -> Body:
    state = s.state
    prompt = TEXT_PROMPTS.get(state)
    if prompt is not None:
        return (Message(prompt.question, prompt.params), _example(prompt.example)), (), None
    if state in CHOICE_QUESTIONS:
        return _choice_question(s)
    if state == "language":
        return (Message(CHOOSE_LANGUAGE),), language_buttons(s.language), None
    if state == "consent":
        return (
            (Message(CONSENT_NOTICE, {"version": CONSENT_VERSION}), Message(CONSENT_QUESTION)),
            (
                (
                    Button(Message(AGREE), question_data(s.token, "consent", "yes")),
                    Button(Message(DISAGREE), question_data(s.token, "consent", "no")),
                ),
            ),
            None,
        )
    if state == "consent_declined":
        again = Button(Message(READ_AGAIN), question_data(s.token, "consent", "again"))
        return (Message(CONSENT_DECLINED),), ((again,),), None
    if state == "phone":
        return (Message(PHONE_QUESTION),), (), Message(SHARE_PHONE)
    if state == "amount":
        limits = {"minimum": Money(s.limits.min_amount), "maximum": Money(s.limits.max_amount)}
        return (Message(AMOUNT_QUESTION, limits), _example(Message(N_("30万 or 300000")))), (), None
    if state == "term_months":
        months = {"minimum": s.limits.min_term, "maximum": s.limits.max_term}
        example = Message(display.MONTHS, {"months": 12})
        return (Message(TERM_QUESTION, months), _example(example)), (), None
    if state == "security_details":
        return _security_details_question(s)
    if state == "documents":
        return _checklist(s)
    if state == "document_upload":
        return _upload_request(s)
    if state == "summary":
        return _summary(s)
    if state == "edit_choice":
        return _edit_choice(s)
    if state == "confirm_cancel":
        buttons = (
            Button(Message(DISCARD), question_data(s.token, "cancel", "yes")),
            Button(Message(KEEP), question_data(s.token, "cancel", "no")),
        )
        return (Message(DISCARD_QUESTION),), (buttons,), None
    if state == "idle":
        return _idle(s)
    if state == "info_upload":
        return _info_upload_request(s)
    if state == "info_answer":
        return _info_answer_request(s)
    # "new" and "submitting" ask nothing of their own.
    return (), (), None


def _example(example: Value) -> Message:
    return Message(EXAMPLE, {"example": example})


def _choice_question(s: Situation) -> Body:
    question, kind = CHOICE_QUESTIONS[s.state]
    members = display.CHOICE_ENUMS[s.state]
    buttons = tuple(
        (Button(Message(label(member)), question_data(s.token, kind, member.value)),)
        for member in members
    )
    return (Message(question),), buttons, None


def _security_details_question(s: Situation) -> Body:
    if display.security_type(s.answers) is SecurityType.GUARANTOR:
        return (
            (Message(GUARANTOR_QUESTION), _example(Message(N_("Li Na, business partner")))),
            (),
            None,
        )
    example = Message(DETAILS_EXAMPLE)
    return (Message(COLLATERAL_QUESTION), _example(example)), (), None


def _current_answer(s: Situation) -> tuple[Message, ...]:
    """While editing, show the answer being replaced (masked where it is personal data)."""
    if not s.editing or s.state not in display.FIELD_LABELS:
        return ()
    value = s.answers.get(s.state)
    if value is None or value == "":
        return ()
    return (Message(CURRENT_ANSWER, {"value": display.answer_value(s.state, value)}),)


def checklist_lines(s: Situation) -> tuple[Message, ...]:
    lines = []
    for kind, required in display.checklist(s.answers):
        if kind in s.documents:
            state = display.RECEIVED
        else:
            state = display.REQUIRED if required else display.OPTIONAL
        lines.append(
            Message(
                display.CHECKLIST_LINE,
                {"document": display.document_label(kind), "state": Message(state)},
            )
        )
    return tuple(lines)


def _checklist(s: Situation) -> Body:
    rows = []
    for kind, _required in display.checklist(s.answers):
        name = display.document_label(kind)
        text = Message(display.RECEIVED_BUTTON, {"document": name}) if kind in s.documents else name
        rows.append((Button(text, question_data(s.token, "doc", kind.value)),))
    rows.append((Button(Message(CONTINUE_TO_SUMMARY), question_data(s.token, "docs", "done")),))
    return (Message(DOCUMENTS_INTRO), *checklist_lines(s)), tuple(rows), None


def _upload_request(s: Situation) -> Body:
    kind = display.choice(DocumentType, s.doc_type or "")
    name = (
        display.document_label(kind)
        if isinstance(kind, DocumentType)
        else Message(N_("the document"))
    )
    back = Button(Message(BACK_TO_CHECKLIST), question_data(s.token, "upl", "back"))
    return (Message(SEND_DOCUMENT, {"document": name}),), ((back,),), None


def _idle(s: Situation) -> Body:
    """Where things stand between applications: an open request first, a kept draft last."""
    buttons: tuple[tuple[Button, ...], ...] = ()
    if s.info_request is not None:
        lines, buttons = open_request_details(s.info_request)
    elif s.open_reference is not None:
        lines = (Message(IDLE_OPEN, {"reference": s.open_reference}),)
    else:
        lines = (Message(IDLE),)
    if s.has_draft:
        lines = (*lines, Message(DRAFT_KEPT))
    return lines, buttons, None


def _info_upload_request(s: Situation) -> Body:
    kind = display.choice(DocumentType, s.doc_type or "")
    name = (
        display.document_label(kind)
        if isinstance(kind, DocumentType)
        else Message(N_("the document"))
    )
    reference = s.info_request.reference if s.info_request is not None else ""
    not_now = Button(Message(NOT_NOW), question_data(s.token, "info", "back"))
    return (
        (Message(INFO_SEND_DOCUMENT, {"document": name, "reference": reference}),),
        ((not_now,),),
        None,
    )


def _info_answer_request(s: Situation) -> Body:
    question = s.info_request.question if s.info_request is not None else None
    lines = (Message(OFFICER_ASKS, {"question": question}),) if question else ()
    not_now = Button(Message(NOT_NOW), question_data(s.token, "info", "back"))
    typing = Message(INFO_TYPE_ANSWER, {"maximum": MAX_MESSAGE_LENGTH})
    return (*lines, typing), ((not_now,),), None


def summary_fields(answers: Mapping[str, str | int | Decimal]) -> tuple[str, ...]:
    """The answer fields the summary lists; security details only when security is offered."""
    shown = display.security_type(answers) is not SecurityType.NONE
    return tuple(name for name in ANSWER_FIELDS if name != "security_details" or shown)


def _summary(s: Situation) -> Body:
    lines = [Message(SUMMARY_INTRO)]
    for name in summary_fields(s.answers):
        value = s.answers.get(name)
        shown = display.answer_value(name, value) if value not in (None, "") else None
        lines.append(
            Message(
                display.FIELD_VALUE,
                {
                    "field": Message(display.FIELD_LABELS[name]),
                    "value": shown if shown is not None else Message(display.NOT_ANSWERED),
                },
            )
        )
    received = [kind for kind, _ in display.checklist(s.answers) if kind in s.documents]
    if received:
        lines.append(Message(DOCUMENTS_RECEIVED))
        lines.extend(
            Message(display.RECEIVED_BUTTON, {"document": display.document_label(kind)})
            for kind in received
        )
    else:
        lines.append(Message(NO_DOCUMENTS))
    buttons = (
        (Button(Message(EDIT_ANSWER), question_data(s.token, "sum", "edit")),),
        (Button(Message(SUBMIT), question_data(s.token, "sum", "submit")),),
    )
    return tuple(lines), buttons, None


def _edit_choice(s: Situation) -> Body:
    targets = [*summary_fields(s.answers), "documents"]
    buttons = [
        Button(Message(display.FIELD_LABELS[target]), question_data(s.token, "edit", target))
        for target in targets
    ]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    back = Button(Message(BACK_TO_SUMMARY), question_data(s.token, "edit", "back"))
    return (Message(WHICH_ANSWER),), (*rows, (back,)), None
