"""The authorization request a browser is logging in for, kept in its sealed session
(``session["oidc"]``) while the person goes through the login pages (the wizard too), and the
logout a person is asked to confirm (``session["logout"]``). A new authorization request
replaces the one before it; one left alone ends after :data:`PENDING_SECONDS`."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from services.web import i18n
from services.web.claims import token_claims
from services.web.oidc.decision import hinted_practice
from services.web.oidc.redirects import form_origin
from shared.assurance import LEVELS, Level
from shared.oidc import AuthorizationError, AuthorizationRequest, read_request

KEY = "oidc"
LOGOUT = "logout"
#: How long a request waits for its login (the enrolment wizard's fifteen minutes and more).
PENDING_SECONDS = 30 * 60
#: The request's share of the sealed cookie (JSON bytes): with the token record beside it the
#: cookie stays under the 4 KiB a browser keeps.
MAX_PENDING_BYTES = 1500
#: Where a completed login goes on to when a request waits for it.
RESUME = "/authorize/resume"


@dataclass(frozen=True)
class Pending:
    """A request waiting for its login: ``id`` ties the login form to it, ``at`` when it was
    made, ``client`` the client's name (the login page says where the person goes)."""

    id: str
    at: float
    client: str
    request: AuthorizationRequest
    second_factor: bool = False
    #: The lowest assurance level the session must have: what ``acr_values`` asks and the
    #: client's own minimum, the higher (ADR 0012).
    level: Level = "low"
    #: The SSO session a login made for this request (``sid``), once one has.
    login: str | None = None

    def answered_by(self, sid: str | None) -> bool:
        """Whether the session ``sid`` is the one a login made for this request."""
        return sid is not None and self.login == sid


def keep(
    session: MutableMapping[str, Any],
    request: AuthorizationRequest,
    client: str,
    now: float,
    second_factor: bool = False,
    level: Level = "low",
) -> Pending:
    """``request`` kept in ``session`` (replacing any other); a request too large to keep
    beside the session's token is refused (redirectable: the client can push it, RFC 9126,
    with a shorter ``state``)."""
    entry = {
        "id": secrets.token_urlsafe(12),
        "at": now,
        "client": client[:100],
        "pushed": request.pushed,
        "params": request.parameters(),
        "second_factor": second_factor,
        "level": level,
    }
    if len(json.dumps(entry, separators=(",", ":"))) > MAX_PENDING_BYTES:
        raise AuthorizationError("invalid_request", "the request is too large to keep")
    session[KEY] = entry
    found = current(session, now)
    assert found is not None
    return found


def current(session: MutableMapping[str, Any], now: float) -> Pending | None:
    """The request waiting in ``session``; one past its time, or unreadable, is dropped."""
    entry = session.get(KEY)
    if entry is None:
        return None
    try:
        at = float(entry["at"])
        params = {str(name): [str(value)] for name, value in dict(entry["params"]).items()}
        request = read_request(params, params["redirect_uri"][0], bool(entry.get("pushed")))
        pending = Pending(
            id=str(entry["id"]),
            at=at,
            client=str(entry["client"]),
            request=request,
            second_factor=bool(entry.get("second_factor")),
            level=entry.get("level") if entry.get("level") in LEVELS else "low",
            login=str(entry["login"]) if entry.get("login") else None,
        )
    except (TypeError, KeyError, ValueError, AttributeError, AuthorizationError):
        session.pop(KEY, None)
        return None
    if now - at > PENDING_SECONDS or at > now + 60:
        session.pop(KEY, None)
        return None
    return pending


def mark_second_factor(session: MutableMapping[str, Any], value: bool) -> None:
    entry = session.get(KEY)
    if isinstance(entry, dict):
        entry["second_factor"] = value


def drop(session: MutableMapping[str, Any]) -> None:
    session.pop(KEY, None)


def after_login(session: MutableMapping[str, Any], now: float) -> str:
    """Where a completed login goes: on to the waiting request (which notes the session the
    login made for it: that one answers ``prompt=login`` and ``max_age``), else the person's
    factors."""
    if current(session, now) is None:
        return "/factors"
    sid = (token_claims(session.get("token")) or {}).get("sid")
    session[KEY]["login"] = sid if isinstance(sid, str) else None
    return RESUME


def for_login(session: MutableMapping[str, Any], form_id: str, now: float) -> dict[str, Any] | None:
    """The waiting request's entry when the login form posted was made for it (its id), to
    carry across the new session a login starts; else None (and a login from any other form
    leaves no request waiting)."""
    pending = current(session, now)
    if pending is None or not form_id or not secrets.compare_digest(pending.id, form_id):
        return None
    entry: dict[str, Any] = session[KEY]
    return entry


def login_view(session: MutableMapping[str, Any], now: float) -> dict[str, str] | None:
    """What the login page shows of a waiting request: its id and the client's name."""
    pending = current(session, now)
    return None if pending is None else {"id": pending.id, "client": pending.client}


def hinted(request: AuthorizationRequest) -> dict[str, str]:
    """The login form's values ``login_hint`` gives: ``practice`` or ``username@practice``."""
    practice = hinted_practice(request.login_hint)
    if practice is None or request.login_hint is None:
        return {}
    username = request.login_hint.rpartition("@")[0]
    return {"practice": practice, **({"username": username} if username else {})}


def locale_of(request: AuthorizationRequest) -> str | None:
    """The first of ``ui_locales`` the pages speak (``nl-NL`` counts as ``nl``)."""
    for tag in request.ui_locales:
        language = tag.lower().split("-")[0]
        if language in i18n.LOCALES:
            return language
    return None


def form_targets(session: Mapping[str, Any]) -> tuple[str, ...]:
    """The origins a page's forms may end at besides this site (CSP ``form-action``): the
    waiting request's redirect URI and the confirmed logout's destination. Read without
    checking the lifetime: a stale entry only widens ``form-action`` by a registered URI."""
    uris: list[str] = []
    entry = session.get(KEY)
    if isinstance(entry, dict) and isinstance(entry.get("params"), dict):
        uris.append(str(entry["params"].get("redirect_uri") or ""))
    logout = session.get(LOGOUT)
    if isinstance(logout, dict):
        uris.append(str(logout.get("to") or ""))
    origins = (form_origin(uri) for uri in uris if uri)
    return tuple(dict.fromkeys(origin for origin in origins if origin is not None))
