"""The problem answers of a login or link through an upstream OpenID Provider (Dezi;
docs/adr/0014). None of them says more of the person than the caller already knows."""

from __future__ import annotations

from shared.assurance import Level
from shared.problems import Problem


def unknown_provider() -> Problem:
    return Problem(
        404, "upstream-unknown", "No such login means", "This deployment has no such login means."
    )


def request_refused(reason: str) -> Problem:
    """The answer does not belong to a login request of this browser (damaged, expired, for
    another purpose, another state)."""
    return Problem(
        400,
        "upstream-request-invalid",
        "Login request not valid",
        f"This answer does not belong to a login that is waiting here ({reason}); start again.",
    )


def code_refused() -> Problem:
    return Problem(
        400,
        "upstream-code-refused",
        "Login not accepted",
        "The identity provider no longer accepts this login (used or expired); start again.",
    )


def identity_refused() -> Problem:
    """The upstream's answer could not be verified (signature, nonce, issuer, audience,
    expiry): the reason is logged, not told."""
    return Problem(
        401,
        "upstream-identity-refused",
        "Identity not verified",
        "The identity provider's answer could not be verified; nobody was logged in.",
    )


def level_too_low(needed: Level) -> Problem:
    return Problem(
        403,
        "upstream-level-too-low",
        "Identity not strong enough",
        f"The identity provider did not state that it authenticated at level {needed}.",
        level=needed,
    )


def unlinked() -> Problem:
    return Problem(
        403,
        "upstream-identity-unlinked",
        "Identity not linked",
        "This Dezi identity is not linked to an employee. Ask the practice's administrator to "
        "record your Dezi number, or log in with your password and second factor and link "
        "Dezi yourself.",
    )


def wrong_ura() -> Problem:
    return Problem(
        403,
        "upstream-ura-mismatch",
        "Other care provider",
        "Dezi says this login acts for a care provider (URA) other than the practice this "
        "identity is linked to; nobody was logged in.",
    )


def ambiguous() -> Problem:
    return Problem(
        409,
        "upstream-identity-ambiguous",
        "Identity linked twice",
        "This Dezi identity is linked to more than one employee of the care provider; ask "
        "the administrator to remove all but one link.",
    )


def practice_without_ura() -> Problem:
    return Problem(
        409,
        "practice-without-ura",
        "Practice has no URA",
        "The practice's URA is not recorded yet; the administrator sets it in the practice's "
        "settings before anyone can link Dezi.",
    )


def link_not_yours() -> Problem:
    return Problem(
        403,
        "forbidden",
        "Forbidden",
        "This link was started in another session; start it again.",
    )


def unavailable() -> Problem:
    return Problem(
        503,
        "upstream-unavailable",
        "Identity provider not reachable",
        "The identity provider cannot be reached now; nothing was changed. Try again shortly, "
        "or log in another way.",
        headers={"Retry-After": "5"},
    )
