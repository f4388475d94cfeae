"""The audit trail's actions as a person reads them, in Dutch and English (the records keep
the action's code, :mod:`shared.audit_actions`; the console shows these)."""

from __future__ import annotations

from services.web import i18n

ACTION_NAMES: dict[str, dict[str, str]] = {
    "nl": {
        "login.succeeded": "Ingelogd",
        "login.failed": "Inloggen mislukt",
        "second_factor.failed": "Tweede stap mislukt",
        "second_factor.replayed": "Code opnieuw gebruikt",
        "account.locked": "Account geblokkeerd",
        "account.unlocked": "Account gedeblokkeerd",
        "account.sessions_ended": "Alle sessies beëindigd",
        "recovery_code.used": "Herstelcode gebruikt",
        "fallback.used": "Ingelogd met certificaat (noodprocedure)",
        "password.changed": "Wachtwoord gewijzigd",
        "password.reset": "Wachtwoord gereset",
        "practice.settings_changed": "Praktijkinstellingen gewijzigd",
        "employee.changed": "Medewerker gewijzigd",
        "factor.enrolled": "Inlogmethode ingesteld",
        "factor.deactivated": "Tweede stap gedeactiveerd",
        "factor.removed": "Inlogmethode verwijderd",
        "recovery_code.regenerated": "Nieuwe herstelcode",
        "enrolment.code_resent": "Activeringscode opnieuw verstuurd",
        "enrolment.identity_failed": "Identiteitscontrole mislukt",
        "enrolment.blocked": "Instellen geblokkeerd",
        "certificate.imported": "Certificaat toegevoegd",
        "certificate.changed": "Certificaat gewijzigd",
        "certificate.granted": "Certificaat toegekend",
        "certificate.grant_revoked": "Toekenning ingetrokken",
        "certificate.removed": "Certificaat verwijderd",
    },
    "en": {
        "login.succeeded": "Logged in",
        "login.failed": "Login failed",
        "second_factor.failed": "Second step failed",
        "second_factor.replayed": "Code used again",
        "account.locked": "Account locked",
        "account.unlocked": "Account unlocked",
        "account.sessions_ended": "Every session ended",
        "recovery_code.used": "Recovery code used",
        "fallback.used": "Logged in with a certificate (fallback)",
        "password.changed": "Password changed",
        "password.reset": "Password reset",
        "practice.settings_changed": "Practice settings changed",
        "employee.changed": "Employee changed",
        "factor.enrolled": "Sign-in method set up",
        "factor.deactivated": "Second step deactivated",
        "factor.removed": "Sign-in method removed",
        "recovery_code.regenerated": "New recovery code",
        "enrolment.code_resent": "Activation code sent again",
        "enrolment.identity_failed": "Identity check failed",
        "enrolment.blocked": "Setup blocked",
        "certificate.imported": "Certificate added",
        "certificate.changed": "Certificate changed",
        "certificate.granted": "Certificate granted",
        "certificate.grant_revoked": "Grant revoked",
        "certificate.removed": "Certificate removed",
    },
}
PREFIX = "audit.action."


def register() -> None:
    """Add the names to the front end's texts (idempotent)."""
    for locale, names in ACTION_NAMES.items():
        for action, name in names.items():
            i18n.TEXTS[locale].setdefault(PREFIX + action, name)


def action_name(locale: str, action: str) -> str:
    """The action's name, or its code for an action this front end does not know yet."""
    found = i18n.text(locale, PREFIX + action)
    return action if found == PREFIX + action else found
