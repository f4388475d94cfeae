"""TweestapClient: login flow, sliding-window tokens, failover between zones, the token file."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from multidict import CIMultiDict

from tweestap_client.failover import call_order, zone_after
from tweestap_client.hedge import first_answer
from tweestap_client.retry import (
    LOAD_429,
    RETRY_SPREAD,
    parse_retry_after,
    retry_order,
    retry_wait,
)
from tweestap_client.store import TokenFile
from tweestap_client.window import Schedule, Window, estimate_skew

Zone = str | Mapping[str, str]
SESSION_ENDED = ("session-expired", "session-revoked")
FORM = "application/x-www-form-urlencoded"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Read-only: sent to a second zone while the first is still busy (``hedge_after``).
HEDGED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The client ends a session itself when its token passes ``exp`` without a renewal.
TOKEN_EXPIRED = "token-expired"  # noqa: S105 (a reason, not a secret)
#: Short on purpose: a call that fails moves to the next zone, so waiting long for a zone that
#: is gone costs more than giving up on one lost SYN (TCP retransmits it after 1 s). ``total``
#: bounds a zone that accepts connections but does not answer (a hung process).
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=5, sock_connect=1)
#: The password step and the login steps after it: argon2 on a loaded server may take seconds.
DEFAULT_PASSWORD_TIMEOUT = 5.0
#: Renew, revoke, the probe: cheap calls (a signature and one query), so a zone that has not
#: answered one by then is treated as failed.
DEFAULT_RENEW_TIMEOUT = 2.0
#: A renewal, the probe or a read-only ``request`` not answered by then goes to the next zone
#: too; the first good answer wins.
DEFAULT_HEDGE_AFTER = 0.25
#: A login step is not hedged (a second password attempt would count toward the lockout), but
#: while it runs its zone is asked ``GET /v1/status`` every ``hedge_after``, with this limit: a
#: zone that answers is merely busy (argon2) and the step waits on; one that does not is hung,
#: and the step moves on at once instead of waiting out ``password_timeout``.
DEFAULT_LIVENESS_TIMEOUT = 0.5


class TweestapError(Exception):
    """A problem+json answer: ``slug`` is the last part of its ``type``."""

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: float | None = None):
        self.status = status
        self.problem = dict(problem)
        self.slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
        self.retry_after = retry_after
        super().__init__(f"{status} {self.slug}: {problem.get('detail') or problem.get('title')}")


class ZonesUnavailable(Exception):
    """No zone answered (connection error, timeout or 5xx in every one, after waiting out any
    ``Retry-After`` that fitted the call's time budget). ``slug``: the problem
    type of the last zone's 5xx answer, if it had one (``revocation-unavailable``: no zone
    could learn whether a card is revoked)."""

    slug: str = ""


class LoginInterrupted(ZonesUnavailable):
    """The zone that holds this login (its id, the checked password, a sent code) cannot be
    reached, and no other zone knows the login; or the password step itself (``action``
    "login") failed after it may have reached its zone, and is not sent to another. Call
    ``login`` again, which goes to a zone that answers. ``may_have_applied``: the request may
    have reached the zone before it failed (a timeout or a 5xx, not a refused connection), so
    e.g. a new password may have been set."""

    def __init__(self, zone: int, action: str, may_have_applied: bool) -> None:
        self.zone, self.action, self.may_have_applied = zone, action, may_have_applied
        hint = "log in again"
        if action == "login":
            hint += " (the password may have reached that zone: it is not sent to another)"
        if action == "password" and may_have_applied:
            hint += " (the new password may have been set: try it if the old one is refused)"
        super().__init__(f"the login's zone {zone} is unreachable during {action}: {hint}")


class NotLoggedIn(Exception):
    """No valid token: log in first."""


class SessionEnded(NotLoggedIn):
    """The session ended (``reason``: session-expired, session-revoked, token-expired)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


#: 5xx problem types by which a zone says it evaluated nothing of the request (it was too
#: busy to hash the password, it is catching up with the bus and decides nothing yet, or it
#: could not reach its database before writing anything, it could not learn whether a card is
#: revoked: another zone may have a fresh answer).
NOTHING_DONE = frozenset(
    {
        "hasher-busy",
        "catching-up",
        "not-evaluated",
        "revocation-unavailable",
        # An upstream OpenID Provider (Dezi) not reached: auth wrote nothing.
        "upstream-unavailable",
    }
)


class _Unavailable(Exception):
    """This zone failed in a way that moves the call to the next one; ``sent`` is False when
    the request never reached the server (connection refused), so any call may move."""

    def __init__(
        self,
        message: str,
        sent: bool = True,
        status: int | None = None,
        slug: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.sent = sent
        #: The HTTP status when the zone did answer (a 5xx), else None.
        self.status = status
        #: The answer's problem type (its last part), if it had one.
        self.slug = slug
        #: The answer's ``Retry-After`` in seconds, if it had one.
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def may_have_applied(self) -> bool:
        """Whether the zone may have acted on the request: it reached the server, and the
        answer (if any) does not say that nothing was done."""
        return self.sent and self.slug not in NOTHING_DONE


@dataclass
class _Answer(Response):
    """An answer and the zone that gave it."""

    zone: int


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


def _claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified: only its times are used, for scheduling."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


@dataclass(frozen=True)
class _Call:
    """One HTTP call as the transport sends it to whichever zone: ``payload`` as JSON, or
    ``form`` (already encoded) as ``application/x-www-form-urlencoded``; ``headers`` sent as
    given. A ``relayed`` call returns every answer below 500 (a 429 too) to its caller."""

    service: str
    method: str
    path: str
    payload: Any = None
    token: str | None = None
    form: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    relayed: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class _Held:
    """The token in use with its schedule; ``record`` is what goes to the file."""

    record: dict[str, Any]
    schedule: Schedule

    @property
    def token(self) -> str:
        return str(self.record["token"])


@dataclass
class Step:
    """One answer of the login flow; ``next`` says what comes after. It holds no password:
    the password is used by ``login`` only (see client/README.md, "A login interrupted")."""

    client: TweestapClient = field(repr=False)
    body: dict[str, Any]
    zone: int

    @property
    def next(self) -> str:
        return str(self.body.get("next", "done"))

    @property
    def login_id(self) -> str | None:
        value = self.body.get("login_id")
        return None if value is None else str(value)

    @property
    def factors(self) -> list[str]:
        return list(self.body.get("factors") or [])

    @property
    def enrolment_token(self) -> str | None:
        value = self.body.get("enrolment_token")
        return None if value is None else str(value)

    async def change_password(self, new_password: str) -> Step:
        return await self._continue("password", {"new_password": new_password})

    async def challenge(self, factor: str) -> Step:
        """Ask for a code (SMS, e-mail) or a certificate nonce: the same login, its answer
        (``sent_to``, ``nonce``, ``certificates``) in ``body``; verify on it."""
        return await self._continue("challenge", {"factor": factor})

    async def verify(
        self,
        factor: str,
        code: str | None = None,
        certificate: str | None = None,
        signature: str | None = None,
        credential: Mapping[str, Any] | None = None,
    ) -> Step:
        """``credential``: a passkey's AuthenticationCredential JSON (the browser's answer)."""
        payload: dict[str, Any] = {"factor": factor}
        for key, value in (("code", code), ("certificate", certificate), ("signature", signature)):
            if value is not None:
                payload[key] = value
        if credential is not None:
            payload["credential"] = dict(credential)
        return await self._continue("verify", payload)

    async def _continue(self, action: str, payload: dict[str, Any]) -> Step:
        if self.login_id is None:
            raise RuntimeError("this login flow has ended")
        path = f"/v1/login/{self.login_id}/{action}"
        try:
            status, body, _ = await self.client._send_here(
                self.zone, _Call("auth", "POST", path, payload), self.client._password_limit, True
            )
        except _Unavailable as error:
            # The login lives in this zone's database only (not replicated): no other zone can
            # continue it, and the password is gone. The next login goes to another zone.
            self.client._down.add(self.zone)
            raise LoginInterrupted(self.zone, action, error.may_have_applied) from error
        self.client._down.discard(self.zone)
        if status == 200 and isinstance(body, dict) and "next" not in body:
            if isinstance(body.get("token"), str):  # verify answers with the token itself
                body = {"next": "done", "token": body}
            else:  # a challenge: the same login continues, its answer (nonce, sent_to) beside
                body = {**body, "login_id": self.login_id, "next": self.next}
                body.setdefault("factors", self.factors)
        return self.client._step(status, body, self.zone)


@dataclass(frozen=True)
class CardChallenge:
    """A card login's challenge (:meth:`TweestapClient.card_challenge`): sign ``nonce``."""

    challenge: str
    nonce: str
    #: The zone that gave it, where the signature goes.
    zone: int
    practice: str | None = None


Hook = Callable[..., Any]
#: The address of the person the current task acts for (:func:`acting_for`).
_acting_for: contextvars.ContextVar[str | None] = contextvars.ContextVar("acting_for", default=None)


@contextlib.contextmanager
def acting_for(address: str | None) -> Iterator[None]:
    """Calls made in this block (by any client, in this task) say they act for the person at
    ``address``: a server-side front end, behind which many people log in, sends the browser's
    address as ``X-Forwarded-For``. The services believe it only from a proxy listed in their
    ``TWEESTAP_TRUSTED_PROXIES``, and then count login attempts per person, not per front end."""
    token = _acting_for.set(address)
    try:
        yield
    finally:
        _acting_for.reset(token)


#: What liveness checks and probes ask: any answer means the zone's auth is up.
_STATUS = _Call("auth", "GET", "/v1/status")


class TweestapClient:
    """See client/README.md. ``zones`` in order of preference."""

    def __init__(
        self,
        zones: Sequence[Zone],
        token_path: str | os.PathLike[str] | None = None,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        password_timeout: float = DEFAULT_PASSWORD_TIMEOUT,
        renew_timeout: float = DEFAULT_RENEW_TIMEOUT,
        hedge_after: float | None = DEFAULT_HEDGE_AFTER,
        liveness_timeout: float = DEFAULT_LIVENESS_TIMEOUT,
        probe_interval: float = 10.0,
        renew_floor: float = 5.0,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_renewed: Hook | None = None,
        on_zone_switched: Hook | None = None,
        on_session_ended: Hook | None = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        if not zones:
            raise ValueError("at least one zone")
        self.zones: list[dict[str, str]] = [
            {"auth": z} if isinstance(z, str) else dict(z) for z in zones
        ]
        self.timeout = timeout or DEFAULT_TIMEOUT
        #: Per kind of call, each capped by ``timeout.total`` (see client/README.md).
        self._password_limit = self._capped(password_timeout)
        self._renew_limit = self._capped(renew_timeout)
        self._request_limit = self._capped(None)
        self._liveness_limit = self._capped(liveness_timeout)
        self.hedge_after = hedge_after or None  # 0 disables, like None
        #: Calls sent to a second zone because the first had not answered within hedge_after.
        self.hedges = 0
        #: Login steps given up on because their zone answered no liveness check meanwhile.
        self.abandoned = 0
        #: Waits for a ``Retry-After`` before a call was sent again (no zone had taken it).
        self.retries = 0
        self.probe_interval = probe_interval
        self.renew_floor, self.jitter = renew_floor, jitter
        self.clock, self.rand = clock, rand
        self.on_renewed, self.on_zone_switched = on_renewed, on_zone_switched
        self.on_session_ended = on_session_ended
        self.file = None if token_path is None else TokenFile(token_path)
        self._zone = 0
        #: Zones whose last call failed: tried last until they answer a call or the probe.
        self._down: set[int] = set()
        self._held: _Held | None = None
        self._session: aiohttp.ClientSession | None = None
        #: A caller's HTTP session shared by many short-lived clients (a server-side front end
        #: making one client per request keeps its connections): used, never closed, here.
        self._shared_http = http
        self._probe: asyncio.Task[None] | None = None
        self._renewing = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> TweestapClient:
        # Every call sets its own time limit, so a shared session's default does not matter.
        self._session = self._shared_http or aiohttp.ClientSession(timeout=self.timeout)
        if self.file is not None:
            record = self.file.read()
            if record is not None:
                held = self._hold(record)
                if held.schedule.window.usable(self.clock()):
                    self._held = held
        self._probe = asyncio.create_task(self._probe_back())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._session is not None and self._session is not self._shared_http:
            await self._session.close()

    # -- state -----------------------------------------------------------------------------

    @property
    def zone(self) -> int:
        """Index (in ``zones``) of the zone in use."""
        return self._zone

    @property
    def token(self) -> str | None:
        """The current token, or None when there is none or it has expired."""
        if self._held is None or not self._held.schedule.window.usable(self.clock()):
            return None
        return self._held.token

    @property
    def saved(self) -> dict[str, Any] | None:
        """The token record in use (token, expiry, renewal time, skew), for a caller that keeps
        it elsewhere than a token file (a web front end's sealed session); see ``restore``."""
        return None if self._held is None else dict(self._held.record)

    def restore(self, record: Mapping[str, Any]) -> None:
        """Use a token record that ``saved`` gave (kept by the caller, not in a file)."""
        self._held = self._hold(dict(record))

    async def bearer(self) -> str:
        """A valid token, renewed first when due; a failed renewal keeps the current one."""
        held = self._held
        if held is None:
            raise NotLoggedIn()
        if held.schedule.due(self.clock()):
            try:
                await self.renew()
            except (ZonesUnavailable, TweestapError):
                if self._held is held:
                    held.schedule.failed(self.clock())
        token = self.token
        if token is None:
            if self._held is held:  # past exp and not renewed, by us or by another process
                await self._end(TOKEN_EXPIRED, forget_file=False)
                raise SessionEnded(TOKEN_EXPIRED)
            raise NotLoggedIn()
        return token

    async def renew(self) -> str:
        """Renew now (once across processes sharing the token file)."""
        async with self._renewing:
            held = self._held
            if held is None:
                raise NotLoggedIn()
            if self.file is not None:
                async with self.file.locked():
                    record = self.file.read()
                    if record is not None and record["token"] != held.token:
                        newer = self._hold(record)
                        if newer.schedule.window.usable(self.clock()):
                            held = self._held = newer  # another process renewed already
                            if not newer.schedule.due(self.clock()):
                                return newer.token
                    return await self._renew(held)
            return await self._renew(held)

    async def _renew(self, held: _Held) -> str:
        sent_at = self.clock()
        # Hedged: two zones may both renew; the first answer is kept, the other dropped (a
        # renewal changes no state but the outbox event, and this runs under the file's lock).
        answer = await self._send(
            "auth", "POST", "/v1/tokens/renew", None, held.token, self._renew_limit, hedged=True
        )
        if answer.status != 200:
            self._problem(answer.status, answer.body)
        self._adopt(answer.body, sent_at)
        if self.on_renewed is not None:
            await _call(self.on_renewed, self.token)
        return held.token if self.token is None else self.token

    async def logout(self) -> None:
        """Revoke the session and forget the token (and its file)."""
        held, self._held = self._held, None
        if self.file is not None:
            async with self.file.locked():
                self.file.remove()
        if held is not None:
            with contextlib.suppress(ZonesUnavailable):
                await self._send(
                    "auth", "POST", "/v1/tokens/revoke", None, held.token, self._renew_limit
                )

    async def request(
        self, service: str, method: str, path: str, json: Any = None, *, token: str | None = None
    ) -> Response:
        """An authenticated call to ``service`` in the zone in use, with the same failover
        (repeated in another zone only when ``method`` is safe to repeat). ``token``: send this
        bearer instead of the session's (the enrolment token a login gives for the wizard)."""
        token = token or await self.bearer()
        method = method.upper()
        answer = await self._send(
            service,
            method,
            path,
            json,
            token,
            self._request_limit,
            repeatable=method in SAFE_METHODS,
            hedged=method in HEDGED_METHODS,
        )
        return Response(answer.status, answer.body, answer.headers)

    async def relay(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        repeatable: bool,
        service: str = "auth",
    ) -> Response:
        """Someone else's call, passed on by a server-side front door (an OpenID Provider's
        token endpoint relaying a relying party's request): no token of this client is sent,
        only ``headers`` as given (their ``Authorization``); ``form`` as
        ``application/x-www-form-urlencoded`` (pairs keep their order and repeats), else
        ``json``. The same failover as every call; one that is not ``repeatable`` (a token
        request, a pushed request, a revocation) moves to another zone only when the first
        cannot have acted on it, else :class:`ZonesUnavailable`. Every answer below 500 comes
        back as it is, 401 and 429 too: the caller passes it on."""
        method = method.upper()
        call = _Call(
            service,
            method,
            path,
            payload=json,
            form=None if form is None else urlencode(form),
            headers=tuple((headers or {}).items()),
            relayed=True,
        )
        answer = await self._dispatch(
            call,
            self._request_limit,
            repeatable=repeatable,
            hedged=repeatable and method in HEDGED_METHODS,
        )
        return Response(answer.status, answer.body, answer.headers)

    # -- login -----------------------------------------------------------------------------

    async def upstream_login(self, provider: str, answer: Mapping[str, Any]) -> None:
        """Log in with an upstream OpenID Provider's answer (Dezi): what it sent the browser
        back with (``code``, ``state``, ``iss``), the ``ticket`` auth gave when the login
        started, and optionally the ``level`` it must reach. A session held like any other;
        refused: TweestapError (``upstream-identity-unlinked``, ``upstream-ura-mismatch`` …).
        The code can be redeemed once: never sent to a second zone when the first may have
        acted on it (:class:`LoginInterrupted`)."""
        sent_at = self.clock()
        result = await self._send(
            "auth",
            "POST",
            f"/v1/upstream/{quote(provider, safe='')}/login/complete",
            dict(answer),
            None,
            self._password_limit,
            repeatable=False,
            watched=True,
            not_repeated=lambda zone: LoginInterrupted(zone, "upstream-login", True),
        )
        if result.status != 200:
            self._problem(result.status, result.body)
        self._adopt(result.body["token"], sent_at)

    async def login(
        self,
        practice: str,
        username: str,
        password: str,
        *,
        second_factor: bool = False,
        level: str | None = None,
    ) -> Step:
        """The password step. Sent to the next zone only when the zone in use cannot have
        evaluated it (connection refused, or an answer that says nothing was done): a password
        that may have reached a zone is never sent to another, where it would count as a
        second guess toward the lockout; :class:`LoginInterrupted` tells the caller to log in
        again instead. Never hedged; the password is not kept after this call returns.
        ``second_factor``: ask for a second factor even where the practice requires none (a
        step-up: the login goes on to ``second_factor``, or ``enrol`` without one);
        ``level``: the lowest assurance level the login must reach (``substantial``, ``high``:
        a login that cannot is refused, ``assurance-level-too-low``)."""
        payload: dict[str, Any] = {"practice": practice, "username": username, "password": password}
        if second_factor:
            payload["second_factor"] = True
        if level is not None:
            payload["level"] = level
        answer = await self._send(
            "auth",
            "POST",
            "/v1/login",
            payload,
            None,
            self._password_limit,
            repeatable=False,
            watched=True,
            not_repeated=lambda zone: LoginInterrupted(zone, "login", may_have_applied=True),
        )
        return self._step(answer.status, answer.body, answer.zone)

    async def card_challenge(self, practice: str | None = None) -> CardChallenge:
        """The first call of a login with a UZI-pas or PKIoverheid certificate by software
        that holds the card (not a browser): a nonce to sign with the card's key (RSA-PSS or
        ECDSA, SHA-256, over its UTF-8 bytes), valid in the zone that gave it, once."""
        payload = {} if practice is None else {"practice": practice}
        answer = await self._send(
            "auth", "POST", "/v1/card-login/challenge", payload, None, self._renew_limit
        )
        if answer.status != 200:
            self._problem(answer.status, answer.body)
        body = answer.body
        return CardChallenge(str(body["challenge"]), str(body["nonce"]), answer.zone, practice)

    async def card_login(
        self,
        *,
        statement: str | None = None,
        challenge: CardChallenge | None = None,
        certificate: str | None = None,
        signature: str | None = None,
        practice: str | None = None,
        level: str | None = None,
    ) -> None:
        """Log in with a card: the web front door's sealed ``statement`` of a browser's
        client-certificate TLS, or a ``challenge`` of :meth:`card_challenge` with the
        ``certificate`` (PEM) and the ``signature`` of its nonce (sent to the zone that gave
        the challenge). A session at level high, held like any other; refused: TweestapError
        (``certificate-revoked``, ``card-not-linked`` …). Never sent to a second zone when the
        first may have acted on it (:class:`LoginInterrupted`)."""
        payload: dict[str, Any] = {}
        if challenge is not None:
            practice = challenge.practice
            payload = {
                "challenge": challenge.challenge,
                "certificate": certificate,
                "signature": signature,
            }
        elif statement is not None:
            payload = {"statement": statement}
        else:
            raise ValueError("a statement, or a challenge with its certificate and signature")
        if practice is not None:
            payload["practice"] = practice
        if level is not None:
            payload["level"] = level
        sent_at = self.clock()
        if challenge is None:
            answer = await self._send(
                "auth",
                "POST",
                "/v1/card-login",
                payload,
                None,
                self._password_limit,
                repeatable=False,
                watched=True,
                not_repeated=lambda zone: LoginInterrupted(zone, "card-login", True),
            )
            status, body = answer.status, answer.body
        else:
            call = _Call("auth", "POST", "/v1/card-login", payload)
            try:
                status, body, _ = await self._send_here(
                    challenge.zone, call, self._password_limit, True
                )
            except _Unavailable as error:
                # The challenge lives in its zone's database only: no other zone can take it.
                self._down.add(challenge.zone)
                raise LoginInterrupted(
                    challenge.zone, "card-login", error.may_have_applied
                ) from error
        if status != 200:
            self._problem(status, body)
        self._adopt(body, sent_at)

    def _step(self, status: int, body: Any, zone: int) -> Step:
        if status != 200:
            self._problem(status, body)
        step = Step(self, body, zone)
        if step.next == "done" and isinstance(body.get("token"), dict):
            self._adopt(body["token"], self.clock())
        return step

    # -- tokens ----------------------------------------------------------------------------

    def _hold(self, record: dict[str, Any]) -> _Held:
        claims = _claims(str(record["token"]))
        iat = float(claims["iat"])
        exp = float(claims.get("exp", _epoch(record["expires_at"])))
        window = Window.from_server(iat, _epoch(record["renew_after"]), exp, float(record["skew"]))
        return _Held(record, Schedule(window, self.renew_floor, self.jitter, self.rand))

    def _adopt(self, grant: dict[str, Any], sent_at: float) -> None:
        skew = estimate_skew(float(_claims(str(grant["token"]))["iat"]), sent_at)
        record = {**grant, "skew": skew}
        self._held = self._hold(record)
        if self.file is not None:
            self.file.write(record)

    async def _maybe_ended(self, body: Any) -> None:
        slug = str(body.get("type", "")).rsplit("/", 1)[-1] if isinstance(body, dict) else ""
        if slug in SESSION_ENDED:
            await self._end(slug, forget_file=True)

    async def _end(self, reason: str, forget_file: bool) -> None:
        """Drop the token and tell the hook. An expired token may stay in the file: nobody
        reads it as valid, and removing it could race with a process that just renewed."""
        self._held = None
        if forget_file and self.file is not None:
            self.file.remove()
        if self.on_session_ended is not None:
            await _call(self.on_session_ended, reason)

    def _problem(self, status: int, body: Any) -> None:
        slug = str(body.get("type", "")).rsplit("/", 1)[-1] if isinstance(body, dict) else ""
        if status == 401 and slug in SESSION_ENDED:
            raise SessionEnded(slug)
        raise TweestapError(status, body if isinstance(body, dict) else {"detail": str(body)})

    # -- transport and failover ------------------------------------------------------------

    async def _send_in(
        self, zone: int, call: _Call, limit: aiohttp.ClientTimeout, watch: bool = False
    ) -> tuple[int, Any, Mapping[str, str]]:
        """One call in one zone; ``watch``: a call that is not hedged but checks, every
        ``hedge_after`` while it runs, that its zone is alive (``DEFAULT_LIVENESS_TIMEOUT``),
        and gives up when it is not and another zone could take the call made again."""
        request = self._request_in(zone, call, limit)
        if not watch or self.hedge_after is None:
            return await request
        task = asyncio.ensure_future(request)
        try:
            # Checked every hedge_after while the call runs: a zone may freeze after answering
            # the first check (a login takes seconds under load).
            while not (await asyncio.wait({task}, timeout=self.hedge_after))[0]:
                if not await self._alive(zone) and not task.done() and self._another_up(zone):
                    self.abandoned += 1
                    raise _Unavailable(f"zone {zone} answered no liveness check")
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, _Unavailable):
                    await task
            elif not task.cancelled():
                task.exception()  # retrieved, also when it failed while a check ran

    def _another_up(self, zone: int) -> bool:
        """Whether a zone other than ``zone`` did not fail its last call. Giving up on a login
        step whose zone misses a liveness check only helps when the login can be made again
        elsewhere: with every other zone failed, a zone merely too loaded to answer the check
        in time (its cores saturated) is the only hope, and a login made again there would
        double its argon2 work. So it is waited for, within the call's limit."""
        return any(z != zone and z not in self._down for z in range(len(self.zones)))

    async def _alive(self, zone: int) -> bool:
        """Whether ``zone``'s auth answers at all (any status) within the liveness limit."""
        try:
            await self._request_in(zone, _STATUS, self._liveness_limit)
        except _Unavailable as error:
            return error.status is not None
        except TweestapError:
            return True
        return True

    async def _request_in(
        self, zone: int, call: _Call, limit: aiohttp.ClientTimeout
    ) -> tuple[int, Any, Mapping[str, str]]:
        if self._session is None:
            raise RuntimeError("use TweestapClient as an async context manager")
        base = self.zones[zone][call.service].rstrip("/")
        headers = CIMultiDict(call.headers)
        if call.token is not None:
            headers["Authorization"] = f"Bearer {call.token}"
        person = _acting_for.get()
        if person is not None:
            headers["X-Forwarded-For"] = person
        if limit.total is not None:  # auth does not keep a login waiting past it
            headers["X-Request-Budget"] = f"{limit.total:.2f}"
        body: dict[str, Any] = {"json": call.payload}
        if call.form is not None:
            headers["Content-Type"] = FORM
            body = {"data": call.form.encode()}
        try:
            async with self._session.request(
                call.method, f"{base}{call.path}", headers=headers, timeout=limit, **body
            ) as response:
                if response.status >= 500:
                    raise _Unavailable(
                        f"{response.status} from zone {zone}",
                        status=response.status,
                        slug=await _problem_slug(response),
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                text = await response.text()
                answer: Any = None
                if text:
                    try:
                        answer = json.loads(text)
                    except ValueError:
                        answer = text
                if response.status == 429 and isinstance(answer, dict) and not call.relayed:
                    retry = float(response.headers.get("Retry-After", "1"))
                    raise TweestapError(429, answer, retry)
                return response.status, answer, CIMultiDict(response.headers)
        except aiohttp.ClientConnectorError as error:
            raise _Unavailable(str(error), sent=False) from error
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            raise _Unavailable(str(error)) from error

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        payload: Any,
        token: str | None,
        limit: aiohttp.ClientTimeout,
        *,
        repeatable: bool = True,
        hedged: bool = False,
        watched: bool = False,
        not_repeated: Callable[[int], ZonesUnavailable] | None = None,
    ) -> _Answer:
        """Try the zone in use, then the others in order (zones that just failed last); a
        ``hedged`` call also goes to the next zone when the first has not answered within
        ``hedge_after``. The client moves to the answering zone only if the call moved. A call
        that is not ``repeatable`` moves only when the failed zone cannot have acted on it;
        otherwise ``not_repeated(zone)`` (default :class:`ZonesUnavailable`) is raised."""
        return await self._dispatch(
            _Call(service, method, path, payload, token),
            limit,
            repeatable=repeatable,
            hedged=hedged,
            watched=watched,
            not_repeated=not_repeated,
        )

    async def _dispatch(
        self,
        call: _Call,
        limit: aiohttp.ClientTimeout,
        *,
        repeatable: bool = True,
        hedged: bool = False,
        watched: bool = False,
        not_repeated: Callable[[int], ZonesUnavailable] | None = None,
    ) -> _Answer:
        """:meth:`_send` of a call already made. When no zone took it and one or more asked
        to be asked again (``Retry-After``: it did nothing of it), the call waits the shortest
        of those and tries again, as long as ``limit.total`` (its budget) has room
        (:mod:`tweestap_client.retry`)."""
        began = self._zone
        budget = _Budget(limit)
        #: Per zone of the current round: its ``Retry-After`` (None: it gave none).
        hints: dict[int, float | None] = {}

        async def attempt(zone: int) -> tuple[int, Any, Mapping[str, str]]:
            try:
                answer = await self._send_in(zone, call, budget.limit(), watched)
            except _Unavailable as error:
                self._down.add(zone)
                hints[zone] = error.retry_after
                if error.may_have_applied and not repeatable:
                    if not_repeated is not None:
                        raise not_repeated(zone) from error
                    raise ZonesUnavailable(f"zone {zone}: {error}; {call}") from error
                raise
            except TweestapError as error:
                hints[zone] = _load_hint(error)
                raise
            self._down.discard(zone)
            return answer

        order = call_order(began, len(self.zones), self._down)
        while True:
            hints.clear()
            try:
                zone, (status, body, headers) = await first_answer(
                    order,
                    attempt,
                    leg_failed=_Unavailable,
                    hedge_after=self.hedge_after if hedged else None,
                    on_hedge=self._hedged,
                )
                break
            except _Unavailable as error:
                if not await self._waited(budget, hints.values()):
                    failed = ZonesUnavailable(f"no zone answered {call}")
                    failed.slug = error.slug
                    raise failed from error
            except TweestapError as error:
                if _load_hint(error) is None or not await self._waited(budget, hints.values()):
                    raise
            hinted = {z for z, hint in hints.items() if hint is not None}
            order = retry_order(call_order(began, len(self.zones), self._down), hinted)
        await self._switch(zone_after(began, zone, self._zone))
        if status == 401 and call.token is not None:
            await self._maybe_ended(body)
        return _Answer(status, body, headers, zone)

    async def _send_here(
        self, zone: int, call: _Call, limit: aiohttp.ClientTimeout, watch: bool = False
    ) -> tuple[int, Any, Mapping[str, str]]:
        """:meth:`_send_in` for a call that only ``zone`` can take (a login's later steps): an
        answer that says it did nothing and when to come back is waited out within the
        budget, like :meth:`_dispatch` does over zones."""
        budget = _Budget(limit)
        while True:
            try:
                return await self._send_in(zone, call, budget.limit(), watch)
            except _Unavailable as error:
                hint = None if error.may_have_applied else error.retry_after
                if not await self._waited(budget, [hint]):
                    raise
            except TweestapError as error:
                if not await self._waited(budget, [_load_hint(error)]):
                    raise

    async def _waited(self, budget: _Budget, hints: Iterable[float | None]) -> bool:
        """Wait before a call goes round again, if ``hints`` and ``budget`` allow it."""
        wait = retry_wait(hints, budget.remaining(), RETRY_SPREAD, self.rand())
        if wait is None:
            return False
        self.retries += 1
        budget.waited = True
        await asyncio.sleep(wait)
        return True

    def _hedged(self, zone: int) -> None:
        self.hedges += 1

    def _capped(self, seconds: float | None) -> aiohttp.ClientTimeout:
        """``self.timeout`` with its total lowered to ``seconds``: ``timeout.total`` caps all."""
        base = self.timeout
        if seconds is not None and base.total is not None:
            seconds = min(seconds, base.total)
        return aiohttp.ClientTimeout(
            total=base.total if seconds is None else seconds,
            connect=base.connect,
            sock_read=base.sock_read,
            sock_connect=base.sock_connect,
            ceil_threshold=base.ceil_threshold,
        )

    async def _switch(self, zone: int) -> None:
        if zone != self._zone:
            old, self._zone = self._zone, zone
            if self.on_zone_switched is not None:
                await _call(self.on_zone_switched, old, zone)

    async def _probe_back(self) -> None:
        """Every ``probe_interval`` s, :meth:`_probe_once`."""
        while True:
            await asyncio.sleep(self.probe_interval)
            await self._probe_once()

    async def _probe_once(self) -> None:
        """Ask every zone more preferred than the one in use, and every zone whose last call
        failed, for its public JWKS, all at once (a hung zone does not hold up the others;
        each within ``renew_timeout``). One that answers is no longer tried last, and the
        client moves to the most preferred of them, unless it moved meanwhile."""
        began = self._zone
        zones = sorted(set(range(began)) | self._down)
        answers = await asyncio.gather(*(self._answers(zone) for zone in zones))
        alive = [zone for zone, ok in zip(zones, answers, strict=True) if ok]
        self._down.difference_update(alive)
        back = [zone for zone in alive if zone < began]
        if back and self._zone == began:
            await self._switch(back[0])

    async def _answers(self, zone: int) -> bool:
        try:
            status, _, _ = await self._send_in(zone, _STATUS, self._renew_limit)
        except (_Unavailable, TweestapError):
            return False
        return status == 200


@dataclass
class _Budget:
    """A call's time budget: ``limit.total`` from its start, over every zone and every wait
    for a ``Retry-After``; each attempt gets at most what is left. No total, no waiting."""

    base: aiohttp.ClientTimeout
    started: float = field(default_factory=time.monotonic)
    #: Whether the call has waited for a ``Retry-After`` yet.
    waited: bool = False

    def remaining(self) -> float:
        if self.base.total is None:
            return 0.0
        return self.base.total - (time.monotonic() - self.started)

    def limit(self) -> aiohttp.ClientTimeout:
        """The first round's attempts get the whole limit each (one zone's failure does not
        shorten the next zone's chance); an attempt after a wait gets what is left."""
        if not self.waited or self.base.total is None:
            return self.base
        return aiohttp.ClientTimeout(
            total=max(self.remaining(), 0.001),
            connect=self.base.connect,
            sock_read=self.base.sock_read,
            sock_connect=self.base.sock_connect,
            ceil_threshold=self.base.ceil_threshold,
        )


def _load_hint(error: TweestapError) -> float | None:
    """The ``Retry-After`` of a 429 that says "too fast" (the request was not evaluated),
    else None."""
    return error.retry_after if error.status == 429 and error.slug in LOAD_429 else None


async def _problem_slug(response: aiohttp.ClientResponse) -> str:
    """The last part of a problem answer's ``type`` ("" for anything else)."""
    try:
        body = json.loads(await response.text())
    except (ValueError, aiohttp.ClientError, UnicodeDecodeError):
        return ""
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else ""


async def _call(hook: Hook, *args: Any) -> None:
    result = hook(*args)
    if asyncio.iscoroutine(result):
        await result
