"""What the conversation says besides its questions: greetings, refusals, confirmations.

English message ids marked with `N_`; the renderer translates them for the applicant.
"""

from __future__ import annotations

from locales import N_

GREETING = N_(
    "Hello! I am the SME Loan Assistant (小微贷款助手). I will help you apply for a business "
    "loan in seven short steps. You can stop at any time and continue later."
)
WELCOME_BACK = N_("Welcome back — let's continue.")
WELCOME_BACK_IDLE = N_("Welcome back!")
ALREADY_DRAFTING = N_("You already have a draft application — let's continue it.")
ONE_OPEN = N_(
    "You already have an open application ({reference}). You can have one application at a "
    "time; send /status to follow it."
)
NO_DRAFT = N_("There is no draft application to discard.")
HELP = N_(
    "Here is what I can do:\n"
    "/start — greet you, or pick up where you left off\n"
    "/apply — start a loan application, or continue your draft\n"
    "/status — your applications and what happens next\n"
    "/language — switch between 简体中文 and English\n"
    "/help — this help\n"
    "/cancel — discard your draft application\n"
    "Your answers are kept if you stop and come back later."
)
STALE = N_("That button belongs to an earlier message; here is where we are:")
UNSUPPORTED = N_("I can only read text, buttons and files here.")
CHOOSE_BUTTON = N_("Please choose one of the buttons.")
TAP_CONTACT = N_(
    "Please tap the button below to share your phone number; I cannot take a typed one."
)
SOMEONE_ELSES = N_("That is someone else's contact — please share your own.")
NOT_ASKING_PHONE = N_("I am not asking for a phone number at this step.")
PHONE_SAVED = N_("Thank you. Phone number {phone} saved.")
LANGUAGE_CHANGED = N_("Done — I will use this language from now on.")
CONSENT_THANKS = N_("Thank you. Let's start with your company.")
SEND_FILE_NOT_TEXT = N_(
    "Please send the document itself as a file or a photo, or tap “Back to the checklist”."
)
CHOOSE_DOCUMENT_FIRST = N_(
    "Please first choose which document you are sending, with the buttons below."
)
NOT_EXPECTING_FILE = N_("I am not expecting a file at this step.")
DOCUMENT_RECEIVED = N_("Received: {document} ✅")
DOCUMENTS_MISSING = N_("These required documents are still missing:")
ANSWERS_MISSING = N_("Some answers are missing. Please use “Edit an answer” to complete them.")
SUBMITTED = N_("Submitted. Your reference is {reference}.")
WHAT_NEXT = N_(
    "What happens next: a loan officer reviews your application, usually within 2 working "
    "days. You will get a message here when anything changes, and you can send /status at "
    "any time."
)
INFO_RECEIVED = N_("Received {document} for {reference}.")
INFO_COMPLETE = N_("Thank you — the loan officer has been told.")
INFO_NOT_NEEDED = N_("{document} is not needed for {reference} any more.")
INFO_SEND_FILE_NOT_TEXT = N_(
    "Please send the document itself as a file or a photo, or tap “Not now”."
)
SENT_TO_OFFICER = N_("Sent to your loan officer.")
PASSED_TO_OFFICER = N_("Your message has been passed to the loan officer handling {reference}.")
MESSAGE_TOO_LONG = N_(
    "That message is too long ({length} characters). Please send at most {maximum} "
    "characters, or split it into several messages."
)
DISCARDED = N_("Your draft has been discarded. Send /apply whenever you want to start again.")

REFUSALS = {
    "too_big": N_(
        "That file is larger than the 20 MB limit. Please send a smaller file, for example a "
        "photo of each page."
    ),
    "wrong_type": N_(
        "I can only accept PDF, JPEG or PNG files. Please send the document in one of these "
        "formats."
    ),
    "image_too_large": N_(
        "That image has too many pixels for me to process. Please send a smaller photo or a PDF."
    ),
    "unreadable": N_("I could not read that file; it may be damaged. Please send it again."),
    "duplicate": N_(
        "I have already received this exact file. Choose the document again if you meant to "
        "replace it with a different file."
    ),
}
REFUSED_OTHER = N_("I could not accept that file. Please try again.")
