"""The auth service's problem answers (RFC 9457), built fresh for each answer: a shared
exception instance raised again and again would collect every raise's traceback (and the
frames' locals) for good."""

from __future__ import annotations

from datetime import datetime

from services.auth.domain import lockout
from shared import assurance, factor_kinds
from shared.assurance import Level
from shared.problems import Problem


def invalid_credentials() -> Problem:
    return Problem(
        401, "invalid-credentials", "Login failed", "Practice, username or password is not correct."
    )


def account_disabled() -> Problem:
    return Problem(
        403,
        "account-disabled",
        "Account disabled",
        "This account is not in service or was not used for too long; "
        "ask the practice administrator.",
    )


def factor_not_available() -> Problem:
    return Problem(
        422,
        "factor-not-available",
        "Factor not available",
        "This login cannot continue with that factor; choose one of the login's factors.",
    )


def factor_not_ready() -> Problem:
    return Problem(
        409,
        "factor-not-ready",
        "Authenticator not known yet",
        "The authenticator just enrolled has not reached this service yet; try again shortly.",
    )


def invalid_code() -> Problem:
    return Problem(401, "invalid-code", "Code not correct", "The code is not correct.")


def code_expired() -> Problem:
    return Problem(401, "code-expired", "Code expired", "The code has expired; ask for a new one.")


def code_already_used() -> Problem:
    return Problem(
        401,
        "code-already-used",
        "Code already used",
        "Each code works once; wait for the next code of the authenticator app.",
    )


def locked(state: lockout.LockState, now: datetime) -> Problem:
    until = state.locked_until or now
    return Problem(
        429,
        "account-locked",
        "Too many failed attempts",
        "Logging in is blocked for a while after too many failed attempts.",
        retry_after=max(1, int((until - now).total_seconds()) + 1),
    )


def login_gone() -> Problem:
    return Problem(
        404, "login-not-found", "Login not found", "This login expired or is already complete."
    )


def _challenge(factor: str) -> tuple[str, str]:
    """What a factor's challenge is called, and what it hands out (a nonce to sign, or a
    challenge for the authenticator)."""
    signed = factor_kinds.spec(factor).answer == "signature"
    return f"{factor} challenge" + (" (a new nonce)" if signed else ""), (
        "nonce" if signed else "challenge"
    )


def challenge_required(factor: str = "certificate") -> Problem:
    name, what = _challenge(factor)
    return Problem(
        409,
        "challenge-required",
        "No challenge to answer",
        f"Ask for a {name} first; each {what} is good for one try.",
    )


def challenge_expired(factor: str = "certificate") -> Problem:
    name, what = _challenge(factor)
    return Problem(
        401,
        "challenge-expired",
        "Challenge expired",
        f"The {what} has expired; ask for a new {name.split(' (')[0]}.",
    )


def passkey_refused(reason: str) -> Problem:
    """A passkey assertion that does not verify (wrong key, origin, RP ID, challenge, no user
    presence, a counter that did not go forward): counted like a wrong code."""
    return Problem(401, "passkey-refused", "Passkey refused", f"Passkey refused: {reason}")


def certificate_not_allowed(detail: str) -> Problem:
    return Problem(403, "certificate-not-allowed", "Certificate not allowed", detail)


def invalid_signature() -> Problem:
    return Problem(
        401,
        "invalid-signature",
        "Signature not correct",
        "The signature does not verify with this certificate's key over the nonce.",
    )


def fallback_limit_reached(max_uses: int, retry_after: int) -> Problem:
    return Problem(
        429,
        "fallback-limit-reached",
        "Fallback limit reached",
        f"The certificate fallback may be used {max_uses} times per 30 days; "
        "use another factor or ask the practice administrator.",
        retry_after=retry_after,
    )


def session_expired() -> Problem:
    return Problem(
        401,
        "session-expired",
        "Session reached its maximum",
        "The session may not be extended further; log in again.",
    )


def session_revoked() -> Problem:
    return Problem(401, "session-revoked", "Session ended", "Log in again.")


def password_reused(history: int) -> Problem:
    return Problem(
        422,
        "password-reused",
        "Password used before",
        f"The password may not be one of the last {history}.",
    )


#: RFC 7235 challenge of a 401 at the introspection endpoint.
BASIC_CHALLENGE = 'Basic realm="tweestap", charset="UTF-8"'


def unauthenticated_client() -> Problem:
    return Problem(
        401,
        "invalid-client",
        "Client not authenticated",
        "Introspection is for registered relying services: HTTP Basic client_id and secret.",
        headers={"WWW-Authenticate": BASIC_CHALLENGE},
    )


def client_removed(client_id: str) -> Problem:
    return Problem(
        409,
        "client-removed",
        "Client removed",
        f"Client {client_id} was removed. To register it again, with a new secret: "
        f"tweestap client add {client_id} --reactivate",
    )


def unknown_client() -> Problem:
    """An authorization request's client is not registered (or was removed): the provider
    shows this at its own page, never at a redirect URI."""
    return Problem(404, "unknown-client", "Unknown client", "No active client has this id.")


def invalid_authorization(detail: str) -> Problem:
    return Problem(400, "invalid-request", "Invalid authorization request", detail)


def invalid_request_uri() -> Problem:
    return Problem(
        400,
        "invalid-request-uri",
        "Pushed request not usable",
        "The request_uri is not this client's, was altered or has expired; push it again.",
    )


def assurance_level_too_low(needed: Level) -> Problem:
    """A login (or a session for an application) below the level that applies: ``level`` names
    the level needed (``low``, ``substantial``, ``high``), ``acr`` its eIDAS URI."""
    return Problem(
        403,
        "assurance-level-too-low",
        "A higher assurance level is needed",
        f"This needs a login at assurance level {assurance.DUTCH[needed]} ({needed}); "
        + (
            "log in with Dezi, a UZI pass or a PKIoverheid certificate."
            if needed == "high"
            else "log in with a second factor."
        ),
        level=needed,
        acr=assurance.LOA[needed],
    )
