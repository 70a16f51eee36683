"""Kept while the back-office pages move to `storage.casework`, where the bot can reach it too."""

from storage.casework import (
    DECISION_TRIGGERS as DECISION_TRIGGERS,
)
from storage.casework import (
    FORBIDDEN_CODES as FORBIDDEN_CODES,
)
from storage.casework import (
    INFO_REQUEST as INFO_REQUEST,
)
from storage.casework import (
    MAX_TEXT_LENGTH as MAX_TEXT_LENGTH,
)
from storage.casework import (
    MESSAGE_COLUMN as MESSAGE_COLUMN,
)
from storage.casework import (
    MESSAGE_TABLE as MESSAGE_TABLE,
)
from storage.casework import (
    NOTIFIED_STATUSES as NOTIFIED_STATUSES,
)
from storage.casework import (
    OFFICER_MESSAGE as OFFICER_MESSAGE,
)
from storage.casework import (
    OFFICER_TRIGGERS as OFFICER_TRIGGERS,
)
from storage.casework import (
    STATUS_CHANGED as STATUS_CHANGED,
)
from storage.casework import (
    DecisionError as DecisionError,
)
from storage.casework import (
    InformationRequest as InformationRequest,
)
from storage.casework import (
    TimelineEntry as TimelineEntry,
)
from storage.casework import (
    apply_decision as apply_decision,
)
from storage.casework import (
    available_triggers as available_triggers,
)
from storage.casework import (
    message_applicant as message_applicant,
)
from storage.casework import (
    message_text as message_text,
)
from storage.casework import (
    open_information_request as open_information_request,
)
from storage.casework import (
    record_applicant_reply as record_applicant_reply,
)
from storage.casework import (
    request_information as request_information,
)
from storage.casework import (
    timeline as timeline,
)
