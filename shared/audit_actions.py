"""The audit trail's actions: the values of an audit record's ``action`` and of the ``type``
filter of ``GET /v1/practices/{p}/audit`` — a public contract between enrolment, which keeps
the trail, and its readers (the web front end's filter), so it lives here once."""

from __future__ import annotations

#: In the order a person reads them in a filter: logins, second factors, passwords, settings
#: and people, factors, enrolment, certificates.
AUDIT_ACTIONS: tuple[str, ...] = (
    "login.succeeded",
    "login.failed",
    "second_factor.failed",
    "second_factor.replayed",
    "account.locked",
    "account.unlocked",
    "account.sessions_ended",
    "recovery_code.used",
    "fallback.used",
    "password.changed",
    "password.reset",
    "practice.settings_changed",
    "employee.changed",
    "factor.enrolled",
    "factor.deactivated",
    "factor.removed",
    "recovery_code.regenerated",
    "enrolment.code_resent",
    "enrolment.identity_failed",
    "enrolment.blocked",
    "certificate.imported",
    "certificate.changed",
    "certificate.granted",
    "certificate.grant_revoked",
    "certificate.removed",
)
