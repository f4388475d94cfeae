"""The enrolment service's problem answers (RFC 9457), built fresh for each answer: one
exception instance raised again and again would keep collecting tracebacks."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.problems import Problem, not_found
from shared.problems import session_revoked as session_revoked

HOUR = timedelta(hours=1)


def refusal(slug: str) -> Problem:
    """The wizard's refusals (domain decisions) as problems."""
    return {
        "not-found": not_found("No such enrolment, or it is finished or replaced."),
        "employee-incomplete": Problem(
            409,
            "employee-incomplete",
            "Employee data incomplete",
            "Your birth date, e-mail address or BSN is missing; ask the practice "
            "administrator to complete them.",
        ),
        "factor-exists": Problem(
            409,
            "factor-exists",
            "Authenticator already enrolled",
            "You already have an authenticator app; log in with it, or ask the practice "
            "administrator to deactivate it.",
        ),
        "enrolment-blocked": Problem(
            423,
            "enrolment-blocked",
            "Enrolment blocked",
            "Too many failed identity checks; the practice administrator has been told and "
            "can unblock it.",
        ),
        "activation-code-expired": Problem(
            410,
            "activation-code-expired",
            "Activation code expired",
            "Start again to get a new activation code.",
        ),
        "enrolment-expired": Problem(
            410, "enrolment-expired", "Enrolment expired", "Start again to enrol."
        ),
        "identity-required": Problem(
            409,
            "identity-required",
            "Identity not checked yet",
            "Enter the activation code, birth date and BSN first.",
        ),
    }[slug]


def too_many(sent: list[datetime], now: datetime) -> Problem:
    retry = max(1, int((sent[0] + HOUR - now).total_seconds()) + 1)
    return Problem(
        429,
        "too-many-codes",
        "Too many codes sent",
        "Too many codes were sent in the last hour; try again later.",
        retry_after=retry,
    )


def username_taken() -> Problem:
    return Problem(
        409,
        "username-taken",
        "Username taken",
        "Another employee of this practice has this username.",
    )


def dezi_number_taken() -> Problem:
    return Problem(
        409,
        "dezi-number-taken",
        "Dezi number taken",
        "Another employee of this practice has this Dezi/UZI number; a number belongs to one "
        "employee of a practice.",
    )


def strong_factor_required(
    detail: str = "SMS and e-mail codes are only offered to employees who have an authenticator "
    "app.",
) -> Problem:
    return Problem(409, "strong-factor-required", "Authenticator app required first", detail)


def passkey_refused(reason: str, detail: str) -> Problem:
    """A passkey registration that is not accepted; ``reason`` is stable, ``detail`` says why."""
    return Problem(400, "passkey-refused", "Passkey not accepted", detail, reason=reason)


def two_factor_required() -> Problem:
    """A password-only session asked for what NEN 7513 keeps for two factors (the audit trail)."""
    return Problem(
        403,
        "two-factor-required",
        "Two-factor session required",
        "Reading the audit trail needs a session that logged in with two factors (NEN 7513): "
        "log in again with a second factor (logins ask for one once the practice requires two "
        "factors).",
    )


def code_expired() -> Problem:
    return Problem(410, "code-expired", "Code expired", "Request a new code.")


def unmet_detail(unmet: list[str]) -> str:
    reasons = {
        "min_strength": "the minimum password strength must be at least 60",
        "email": "the practice's e-mail address must be set (activation codes are sent from it)",
    }
    return "To require two factors, " + " and ".join(reasons[u] for u in unmet) + "."


def last_strong_factor() -> Problem:
    """Removing the employee's only authenticator app or passkey."""
    return Problem(
        409,
        "last-strong-factor",
        "Last strong sign-in method",
        "This is your only authenticator app or passkey: add another one before removing it, "
        "or ask the practice administrator.",
    )


def no_authenticator() -> Problem:
    """Replacing an authenticator app the employee does not have."""
    return Problem(
        409,
        "no-authenticator",
        "No authenticator app to replace",
        "You have no authenticator app yet: the enrolment wizard sets one up at your next login.",
    )


def not_named() -> Problem:
    """Naming a factor whose kind has no name (only passkeys have one)."""
    return Problem(
        409,
        "factor-not-named",
        "This sign-in method has no name",
        "Only a passkey can be given a name.",
    )
