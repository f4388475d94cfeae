"""TweestapClient: login flow, sliding-window tokens, failover between zones, the token file."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import aiohttp

from tweestap_client.store import TokenFile
from tweestap_client.window import Schedule, Window, estimate_skew

Zone = str | Mapping[str, str]
SESSION_ENDED = ("session-expired", "session-revoked")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class TweestapError(Exception):
    """A problem+json answer: ``slug`` is the last part of its ``type``."""

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: float | None = None):
        self.status = status
        self.problem = dict(problem)
        self.slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
        self.retry_after = retry_after
        super().__init__(f"{status} {self.slug}: {problem.get('detail') or problem.get('title')}")


class ZonesUnavailable(Exception):
    """No zone answered (connection error, timeout or 5xx in every one)."""


class NotLoggedIn(Exception):
    """No valid token: log in first."""


class SessionEnded(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


class _Unavailable(Exception):
    """This zone failed in a way that moves the call to the next one; ``sent`` is False when
    the request never reached the server (connection refused), so any call may move."""

    def __init__(self, message: str, sent: bool = True) -> None:
        self.sent = sent
        super().__init__(message)


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


@dataclass
class _Held:
    """The token in use with its schedule; ``record`` is what goes to the file."""

    record: dict[str, Any]
    schedule: Schedule

    @property
    def token(self) -> str:
        return str(self.record["token"])


@dataclass
class _Flow:
    """One login flow: the password lives here, in memory, until the flow ends."""

    practice: str
    username: str
    password: str | None

    def wipe(self) -> None:
        self.password = None


@dataclass
class Step:
    """One answer of the login flow; ``next`` says what comes after."""

    client: TweestapClient
    body: dict[str, Any]
    zone: int
    _flow: _Flow = field(repr=False)
    restarted: bool = False

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
        """Ask for a code (SMS, e-mail) or a certificate nonce; the answer is in ``body``."""
        return await self._continue("challenge", {"factor": factor})

    async def verify(
        self,
        factor: str,
        code: str | None = None,
        certificate: str | None = None,
        signature: str | None = None,
    ) -> Step:
        payload: dict[str, Any] = {"factor": factor}
        for key, value in (("code", code), ("certificate", certificate), ("signature", signature)):
            if value is not None:
                payload[key] = value
        return await self._continue("verify", payload)

    async def _continue(self, action: str, payload: dict[str, Any]) -> Step:
        if self.login_id is None:
            raise RuntimeError("this login flow has ended")
        path = f"/v1/login/{self.login_id}/{action}"
        try:
            status, body, _ = await self.client._send_in(self.zone, "auth", "POST", path, payload)
        except _Unavailable:
            # The login id lives in this zone's database: start over with the password in the
            # next zone that answers; the caller repeats this step there (``restarted``).
            if self._flow.password is None:
                raise ZonesUnavailable("the login's zone is gone and the flow has ended") from None
            step = await self.client._login(self._flow, start=self.zone + 1)
            step.restarted = True
            return step
        return self.client._step(status, body, self.zone, self._flow)


Hook = Callable[..., Any]


class TweestapClient:
    """See client/README.md. ``zones`` in order of preference."""

    def __init__(
        self,
        zones: Sequence[Zone],
        token_path: str | os.PathLike[str] | None = None,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        probe_interval: float = 10.0,
        renew_floor: float = 5.0,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_renewed: Hook | None = None,
        on_zone_switched: Hook | None = None,
        on_session_ended: Hook | None = None,
    ) -> None:
        if not zones:
            raise ValueError("at least one zone")
        self.zones: list[dict[str, str]] = [
            {"auth": z} if isinstance(z, str) else dict(z) for z in zones
        ]
        self.timeout = timeout or aiohttp.ClientTimeout(total=5, connect=2)
        self.probe_interval = probe_interval
        self.renew_floor, self.jitter = renew_floor, jitter
        self.clock, self.rand = clock, rand
        self.on_renewed, self.on_zone_switched = on_renewed, on_zone_switched
        self.on_session_ended = on_session_ended
        self.file = None if token_path is None else TokenFile(token_path)
        self._zone = 0
        self._held: _Held | None = None
        self._session: aiohttp.ClientSession | None = None
        self._probe: asyncio.Task[None] | None = None
        self._renewing = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> TweestapClient:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
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
        if self._session is not None:
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
        answer = await self._send("auth", "POST", "/v1/tokens/renew", None, held.token, True)
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
                await self._send("auth", "POST", "/v1/tokens/revoke", None, held.token, True)

    async def request(self, service: str, method: str, path: str, json: Any = None) -> Response:
        """An authenticated call to ``service`` in the zone in use, with the same failover
        (repeated in another zone only when ``method`` is safe to repeat)."""
        token = await self.bearer()
        answer = await self._send(
            service, method.upper(), path, json, token, method.upper() in SAFE_METHODS
        )
        return Response(answer.status, answer.body, answer.headers)

    # -- login -----------------------------------------------------------------------------

    async def login(self, practice: str, username: str, password: str) -> Step:
        return await self._login(_Flow(practice, username, password), start=self._zone)

    async def _login(self, flow: _Flow, start: int) -> Step:
        payload = {"practice": flow.practice, "username": flow.username, "password": flow.password}
        try:
            answer = await self._send("auth", "POST", "/v1/login", payload, None, True, start)
        except BaseException:
            flow.wipe()
            raise
        return self._step(answer.status, answer.body, answer.zone, flow)

    def _step(self, status: int, body: Any, zone: int, flow: _Flow) -> Step:
        if status != 200:
            flow.wipe()
            self._problem(status, body)
        step = Step(self, body, zone, flow)
        if step.next == "done":
            flow.wipe()
            if isinstance(body.get("token"), dict):
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
            self._held = None
            if self.file is not None:
                self.file.remove()
            if self.on_session_ended is not None:
                await _call(self.on_session_ended, slug)

    def _problem(self, status: int, body: Any) -> None:
        slug = str(body.get("type", "")).rsplit("/", 1)[-1] if isinstance(body, dict) else ""
        if status == 401 and slug in SESSION_ENDED:
            raise SessionEnded(slug)
        raise TweestapError(status, body if isinstance(body, dict) else {"detail": str(body)})

    # -- transport and failover ------------------------------------------------------------

    async def _send_in(
        self,
        zone: int,
        service: str,
        method: str,
        path: str,
        payload: Any,
        token: str | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        if self._session is None:
            raise RuntimeError("use TweestapClient as an async context manager")
        base = self.zones[zone][service].rstrip("/")
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.request(
                method, f"{base}{path}", json=payload, headers=headers
            ) as response:
                if response.status >= 500:
                    raise _Unavailable(f"{response.status} from zone {zone}")
                text = await response.text()
                body: Any = None
                if text:
                    try:
                        body = json.loads(text)
                    except ValueError:
                        body = text
                if response.status == 429 and isinstance(body, dict):
                    raise TweestapError(429, body, float(response.headers.get("Retry-After", "1")))
                return response.status, body, dict(response.headers)
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
        repeatable: bool,
        start: int | None = None,
    ) -> _Answer:
        """Try the zone in use, then the others in order; stay on the one that answers."""
        first = self._zone if start is None else start % len(self.zones)
        order = [(first + i) % len(self.zones) for i in range(len(self.zones))]
        for zone in order:
            try:
                status, body, headers = await self._send_in(
                    zone, service, method, path, payload, token
                )
            except _Unavailable as error:
                if error.sent and not repeatable:
                    raise ZonesUnavailable(f"zone {zone}: {error}; {method} {path}") from error
                continue
            await self._switch(zone)
            if status == 401 and token is not None:
                await self._maybe_ended(body)
            return _Answer(status, body, headers, zone)
        raise ZonesUnavailable(f"no zone answered {method} {path}")

    async def _switch(self, zone: int) -> None:
        if zone != self._zone:
            old, self._zone = self._zone, zone
            if self.on_zone_switched is not None:
                await _call(self.on_zone_switched, old, zone)

    async def _probe_back(self) -> None:
        """While not on the preferred zone, look every ``probe_interval`` s whether a more
        preferred one answers its public JWKS, and move back to it."""
        while True:
            await asyncio.sleep(self.probe_interval)
            for zone in range(self._zone):
                try:
                    status, _, _ = await self._send_in(
                        zone, "auth", "GET", "/.well-known/jwks.json", None
                    )
                except (_Unavailable, TweestapError):
                    continue
                if status == 200:
                    await self._switch(zone)
                    break


async def _call(hook: Hook, *args: Any) -> None:
    result = hook(*args)
    if asyncio.iscoroutine(result):
        await result
