"""Every route of the back-office and who may use it: the single table the app is built from.

Add a page here or it does not exist; forget its `access` and the permission layer refuses
it and the route × role test fails.
"""

from __future__ import annotations

from backoffice.access import (
    ADMINISTRATORS,
    APPLICATION_READERS,
    AUDIT_READERS,
    DECIDERS,
    EVERY_ROLE,
    MESSENGERS,
    PUBLIC,
    REVIEWERS,
    SIGNING_IN,
    UNMASKERS,
    RouteSpec,
)
from backoffice.views import admin, applications, audit, decisions, preferences, queue, signin

_OFFICER = r"/admin/officers/{officer_id:\d+}"
_APPLICATION = r"/applications/{application_id:\d+}"

ROUTES: list[RouteSpec] = [
    RouteSpec("GET", "/login", signin.show_sign_in, PUBLIC, "sign_in"),
    RouteSpec("POST", "/login", signin.sign_in, PUBLIC),
    RouteSpec("GET", "/login/totp", signin.show_second_factor, SIGNING_IN, "second_factor"),
    RouteSpec("POST", "/login/totp", signin.confirm_second_factor, SIGNING_IN),
    RouteSpec("POST", "/logout", signin.sign_out, EVERY_ROLE, "sign_out"),
    RouteSpec("POST", "/preferences/language", preferences.choose_language, EVERY_ROLE),
    RouteSpec("GET", "/", queue.show_queue, APPLICATION_READERS, "queue"),
    # A search is a read, sent as POST so phone and ID numbers stay out of URLs and logs.
    RouteSpec("POST", "/", queue.search_queue, APPLICATION_READERS),
    RouteSpec("GET", _APPLICATION, applications.show_application, APPLICATION_READERS),
    RouteSpec("POST", _APPLICATION + "/reveal", applications.reveal_personal_data, UNMASKERS),
    RouteSpec(
        "GET",
        _APPLICATION + r"/documents/{document_id:\d+}",
        applications.download_document,
        APPLICATION_READERS,
    ),
    RouteSpec("POST", _APPLICATION + "/open", decisions.open_application, REVIEWERS),
    RouteSpec(
        "POST", _APPLICATION + "/request-information", decisions.request_information, REVIEWERS
    ),
    RouteSpec("POST", _APPLICATION + "/recommend", decisions.recommend, REVIEWERS),
    RouteSpec("POST", _APPLICATION + "/approve", decisions.approve, DECIDERS),
    RouteSpec("POST", _APPLICATION + "/reject", decisions.reject, DECIDERS),
    RouteSpec("POST", _APPLICATION + "/disburse", decisions.disburse, DECIDERS),
    RouteSpec("POST", _APPLICATION + "/messages", decisions.message_applicant, MESSENGERS),
    RouteSpec("GET", "/audit", audit.show_audit_trail, AUDIT_READERS, "audit"),
    RouteSpec("GET", "/audit/chain", audit.verify_audit_chain, AUDIT_READERS),
    RouteSpec("GET", "/audit/export.csv", audit.export_audit_trail, AUDIT_READERS),
    RouteSpec("GET", "/admin/officers", admin.list_officers, ADMINISTRATORS, "officers"),
    RouteSpec("POST", "/admin/officers", admin.create_officer, ADMINISTRATORS),
    RouteSpec("POST", _OFFICER + "/role", admin.change_role, ADMINISTRATORS),
    RouteSpec("POST", _OFFICER + "/disable", admin.disable_officer, ADMINISTRATORS),
    RouteSpec("POST", _OFFICER + "/enable", admin.enable_officer, ADMINISTRATORS),
    RouteSpec("POST", _OFFICER + "/unlock", admin.unlock_officer, ADMINISTRATORS),
    RouteSpec("POST", _OFFICER + "/reset-totp", admin.reset_second_factor, ADMINISTRATORS),
]
# Static files (our CSS and JS) are public: they hold nothing but the look of the pages.
STATIC_ACCESS = PUBLIC
