"""The chaos run's load: SDK clients doing what Tweestap's users do, every operation recorded.

Per practice: employees logging in (password; TOTP in a practice that requires two factors),
renewing, making an authenticated call, logging out or changing their password; an
administrator in each zone editing one field each of a shared employee (the per-field merge)
and putting another employee out of service and back; someone guessing passwords of unknown
usernames (the lockout); and notification requests on the bus. Each revocation the client was
told of is probed in both zones until refused. ``saturate`` adds a crowd of logins.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.parser
import email.policy
import functools
import json
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
from aiokafka import AIOKafkaProducer
from tweestap_client import (
    LoginInterrupted,
    SessionEnded,
    TweestapClient,
    TweestapError,
    ZonesUnavailable,
)

from services.dev.chaos.history import (
    DOCUMENTED,
    ENDED,
    OK,
    OTHER,
    STALE,
    UNAVAILABLE,
    Entry,
    History,
)
from services.dev.deployment import Deployment
from shared.bus_tags import BusTags
from shared.events import Envelope, NotifyRequest
from shared.otp import PERIOD, time_step, totp_at_step
from shared.sealing import Keyring
from shared.topics import NOTIFY_REQUESTS

PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"  # noqa: S105 - the load's own accounts
#: How long the revocation of a session is probed in each zone before the final probe (after
#: the heal) decides.
PROBE_SECONDS = 15.0
PROBE_PAUSE = 0.05
#: Employees per practice logging in and out, and unknown usernames guessed at.
USERS = 3
GHOSTS = 2
#: Employees with an authenticator app (in a practice that requires two factors).
TOTP_USERS = 2
#: A login or password change refused within this long after the password changed counts as
#: "stale" (the zone that answered had not yet received the new password), not a violation.
STALE_SECONDS = 30.0
#: Concurrent login loops of a saturation burst, over accounts of practices of their own (one
#: username's attempts queue on its lock, not on the hasher).
CROWD = 24
CROWD_ACCOUNTS = 12
#: A 4xx the guesser expects: wrong password (401), locked (423), too many (429).
GUESS_REFUSALS = frozenset({401, 423, 429})


def _sid(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


@dataclass
class Account:
    practice: str
    employee: str
    username: str
    password: str
    #: (old, new) of a change that was not answered: either may be the one auth holds.
    unsure: tuple[str, str] | None = None
    #: When this account's password last changed (seconds into the run).
    changed_at: float | None = None
    #: Two factors: what the wizard asks, the app's secret and the last time step used.
    email: str | None = None
    birth: str | None = None
    bsn: str | None = None
    secret: str | None = None
    last_step: int = 0


@dataclass
class Practice:
    id: str
    admin: Account
    users: list[Account] = field(default_factory=list)
    victim: Account | None = None
    merged: str = ""  # the employee whose fields the two administrators edit
    ghosts: list[str] = field(default_factory=list)


class Load:
    """The load against ``deployment``, recorded in ``history``; ``rng`` makes each actor's
    choices (the timing of a run is never exactly reproducible, its schedule is)."""

    def __init__(
        self, deployment: Deployment, history: History, rng: random.Random, practices: int = 2
    ) -> None:
        self.deployment, self.history, self.rng = deployment, history, rng
        self.practice_count = practices
        self.practices: list[Practice] = []
        self.crowd: list[Account] = []
        self.zones = list(deployment.zones)
        self.sdk_zones = [
            {s: deployment.url(s, z) for s in deployment.services} for z in deployment.zones
        ]
        self._stop = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._probes: set[asyncio.Task[None]] = set()
        self.two_factor: Practice | None = None
        #: One login of the two-factor practice's administrator at a time (its app's steps).
        self._admin_app = asyncio.Lock()

    # -- setup ---------------------------------------------------------------------------

    async def setup(self) -> None:
        """The practices, their employees (through the administrators' API, as a practice
        does) and the crowd's accounts; returns once both zones know every one."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        tag = secrets.token_hex(3)
        first = await self._bootstrap(f"chaos-{tag}-0")
        rest = await asyncio.gather(
            *(self._bootstrap(f"chaos-{tag}-{i}") for i in range(1, self.practice_count))
        )
        self.practices = [first, *rest]
        await asyncio.gather(
            *(self._employees(p) for p in self.practices), self._two_factor_practice(tag)
        )
        crowd = await asyncio.gather(
            *(self._bootstrap(f"chaos-{tag}-crowd-{i}") for i in range(CROWD_ACCOUNTS))
        )
        self.crowd = [p.admin for p in crowd]

    async def _bootstrap(self, practice: str) -> Practice:
        # The practice's e-mail address: the notifier sends every message from it.
        address = f"praktijk@{practice}.example.nl"
        employee = await self.deployment.bootstrap(practice, "admin", PASSWORD, email=address)
        for zone in self.zones:  # the administrators' API serves it once enrolment has it
            query = "SELECT 1 FROM practices WHERE id = $1"
            await self._until(zone, query, practice, service="enrolment")
        return Practice(practice, Account(practice, employee, "admin", PASSWORD))

    async def _employees(self, p: Practice) -> None:
        async with self._client(0) as admin:
            await admin.login(p.admin.practice, p.admin.username, p.admin.password)
            for index in range(USERS):
                p.users.append(await self._employee(admin, p, f"user{index}"))
            p.victim = await self._employee(admin, p, "victim")
            merged = await self._employee(admin, p, "merged")
            p.merged = merged.employee
            for key, value in (("name", "Naam 0"), ("phone", "+31612340000")):
                await self._edit(admin, "setup", p, key, value)
        p.ghosts = [f"ghost{index}-{secrets.token_hex(2)}" for index in range(GHOSTS)]

    async def _employee(
        self,
        admin: TweestapClient,
        p: Practice,
        username: str,
        person: dict[str, Any] | None = None,
    ) -> Account:
        employee = f"{username}-{secrets.token_hex(3)}"
        person = person or {}
        body = {"username": username, "name": username.title(), "rights_group": 2, **person}
        answer = await admin.request(
            "enrolment", "PUT", f"/v1/practices/{p.id}/employees/{employee}", body
        )
        if answer.status != 200:
            raise RuntimeError(f"employee {username}: {answer.status} {answer.body}")
        await self._until_known(p.id, employee, "employees")
        password = {"password": PASSWORD, "temporary": False}
        path = f"/v1/practices/{p.id}/employees/{employee}/password"
        answer = await admin.request("auth", "PUT", path, password)
        if answer.status != 200:
            raise RuntimeError(f"password of {username}: {answer.status} {answer.body}")
        for zone in self.zones:
            await self.deployment.wait_employee(zone, p.id, employee)
        return Account(
            p.id,
            employee,
            username,
            PASSWORD,
            email=person.get("email"),
            birth=person.get("birth_date"),
            bsn=person.get("bsn"),
        )

    async def _until_known(self, practice: str, employee: str, table: str) -> None:
        for zone in self.zones:
            conn = await asyncpg.connect(self.deployment.dsn("auth", zone))
            try:
                for _ in range(300):
                    if await conn.fetchval(
                        f"SELECT 1 FROM {table} WHERE practice = $1 AND id = $2",  # noqa: S608
                        practice,
                        employee,
                    ):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise TimeoutError(f"{employee} not in zone {zone}'s auth")
            finally:
                await conn.close()

    # -- running -------------------------------------------------------------------------

    async def run(self, until: float) -> None:
        """Every actor until ``until`` (seconds into the run); then the probes in flight
        finish."""
        actors: list[Awaitable[None]] = []
        for p in self.practices:
            for index, user in enumerate(p.users):
                actors.append(self._sessions(user, index % 2))
            actors.append(self._administrator(p, 0, "name", True))
            actors.append(self._administrator(p, 1, "phone", False))
            actors.append(self._guesser(p))
        if self.two_factor is not None:
            for index, user in enumerate(self.two_factor.users):
                actors.append(self._two_factor_sessions(user, index % 2))
        actors.append(self._notifications())
        watcher = asyncio.create_task(self._watch(until))
        await asyncio.gather(*actors)
        await watcher
        if self._probes:
            await asyncio.gather(*self._probes, return_exceptions=True)

    async def _watch(self, until: float) -> None:
        await asyncio.sleep(max(0.0, until - self.history.now()))
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _client(self, first: int) -> TweestapClient:
        """An SDK client preferring zone index ``first``."""
        order = [first, *(i for i in range(len(self.sdk_zones)) if i != first)]
        return TweestapClient([self.sdk_zones[i] for i in order], http=self._http)

    async def _pause(self, low: float, high: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.rng.uniform(low, high))

    # -- recording -----------------------------------------------------------------------

    async def _password_login(
        self,
        client: TweestapClient,
        name: str,
        kind: str,
        user: Account,
        order: Sequence[str],
        **fields: Any,
    ) -> tuple[Entry, Any]:
        """``user``'s password step with the password the load holds, recorded as ``kind``."""
        return await self._op(
            client,
            name,
            kind,
            functools.partial(client.login, user.practice, user.username, user.password),
            order=order,
            employee=user.employee,
            **fields,
        )

    async def _op(
        self,
        client: TweestapClient | None,
        name: str,
        kind: str,
        call: Callable[[], Awaitable[Any]],
        *,
        order: Sequence[str] = (),
        **fields: Any,
    ) -> tuple[Entry, Any]:
        """Run ``call`` as one operation of ``name``'s and record it with its outcome."""
        moved: list[str] = []
        if client is not None:
            zone_names = list(order) or self.zones

            def switched(old: int, new: int) -> None:
                moved.append(zone_names[new])

            client.on_zone_switched = switched
            began = zone_names[client.zone]
        start = self.history.now()
        outcome, error, result = OK, None, None
        try:
            result = await call()
        except LoginInterrupted as exc:
            outcome, error = DOCUMENTED, f"LoginInterrupted({exc.action})"
        except SessionEnded as exc:
            outcome, error = ENDED, f"SessionEnded({exc.reason})"
        except ZonesUnavailable as exc:
            outcome, error = UNAVAILABLE, f"ZonesUnavailable({exc.slug or ''}): {exc}"
        except TweestapError as exc:
            refused = kind == "guess" and exc.status in GUESS_REFUSALS
            outcome, error = (DOCUMENTED if refused else OTHER), f"TweestapError({exc})"
        except Exception as exc:  # every failure is recorded, whatever it is
            outcome, error = OTHER, f"{type(exc).__name__}: {exc}"
        entry = {
            "type": "op",
            "client": name,
            "kind": kind,
            "start": start,
            "end": self.history.now(),
            "outcome": outcome,
            "error": None if error is None else error[:300],
            **fields,
        }
        if client is not None:
            entry["zones"] = [began, *moved]
        self.history.record(entry)
        return entry, result

    # -- employees -----------------------------------------------------------------------

    async def _sessions(self, user: Account, first: int) -> None:
        """Log in, renew, call, then log out, change the password or just leave; again."""
        name = f"{user.practice}/{user.username}"
        order = [self.zones[first], *(z for z in self.zones if z != self.zones[first])]
        while not self.stopping:
            async with self._client(first) as client:
                entry, step = await self._login(client, name, user, order)
                if entry["outcome"] != OK or client.token is None:
                    if entry["outcome"] == OK:
                        entry["outcome"], entry["error"] = OTHER, f"login at {step.next}"
                    await self._pause(0.2, 1.0)
                    continue
                sid = _sid(client.token)
                entry["sids"] = [sid]
                alive = await self._use(client, name, sid, user.employee, order)
                if alive:
                    await self._finish(client, name, sid, user, order)
            await self._pause(0.2, 1.0)

    async def _login(
        self, client: TweestapClient, name: str, user: Account, order: list[str]
    ) -> tuple[Entry, Any]:
        """The password step. After a change whose answer was lost either password may be
        the one auth holds (and a zone may not have the new one yet): a refused one makes the
        next login try the other, until the new one works."""
        entry, step = await self._password_login(
            client, name, "login", user, order, unsure=user.unsure is not None
        )
        refused = entry["outcome"] == OTHER and "401" in (entry["error"] or "")
        if user.unsure is not None:
            old, new = user.unsure
            if entry["outcome"] == OK and user.password == new:
                user.unsure, user.changed_at = None, entry["start"]
            elif refused:
                user.password = old if user.password == new else new
                entry["outcome"] = DOCUMENTED
        elif refused and self._recent(user, entry):
            entry["outcome"] = STALE
        return entry, step

    @staticmethod
    def _recent(user: Account, entry: Entry) -> bool:
        """Whether the password changed so shortly before that the zone answering may not yet
        hold the new one (replication lag; longer behind a fault)."""
        changed = user.changed_at
        return changed is not None and entry["start"] - changed < STALE_SECONDS

    async def _use(
        self, client: TweestapClient, name: str, sid: str, employee: str, order: list[str]
    ) -> bool:
        """Renewals and authenticated calls; False when the session ended meanwhile."""
        for _ in range(self.rng.randint(1, 3)):
            await self._pause(0.2, 1.5)
            for kind, call in (
                ("renew", client.renew),
                ("request", lambda c=client: c.request("auth", "GET", "/v1/sessions")),
            ):
                entry, answer = await self._op(
                    client, name, kind, call, order=order, sids=[sid], employee=employee
                )
                if kind == "request" and entry["outcome"] == OK and answer.status != 200:
                    entry["outcome"], entry["error"] = OTHER, f"{answer.status} {answer.body}"
                if entry["outcome"] == ENDED:
                    return False
        return True

    async def _finish(
        self, client: TweestapClient, name: str, sid: str, user: Account, order: list[str]
    ) -> None:
        choice = self.rng.random()
        if choice < 0.4:
            await self._logout(client, name, sid, user.employee, order)
        elif choice < 0.55 and user.unsure is None:  # a change only from a known password
            await self._change_password(client, name, sid, user, order)

    async def _logout(
        self, client: TweestapClient, name: str, sid: str, employee: str, order: list[str]
    ) -> None:
        token = client.token
        if token is None:
            return

        async def revoke() -> Any:
            answer = await client.relay(
                "POST",
                "/v1/tokens/revoke",
                headers={"Authorization": f"Bearer {token}"},
                repeatable=True,
            )
            if answer.status >= 300:
                raise TweestapError(answer.status, answer.body or {})
            return answer

        entry, _ = await self._op(
            client, name, "logout", revoke, order=order, sids=[sid], employee=employee
        )
        if entry["outcome"] == OK:
            self._revoked(sid, token, entry["end"], "logout")

    async def _change_password(
        self, client: TweestapClient, name: str, sid: str, user: Account, order: list[str]
    ) -> None:
        token = client.token
        if token is None:
            return
        new = f"Chaos-{secrets.token_hex(6)}-Wachtwoord!"
        body = {"current_password": user.password, "new_password": new}
        entry, answer = await self._op(
            client,
            name,
            "password",
            lambda: client.request("auth", "POST", "/v1/password", body),
            order=order,
            sids=[sid],
            employee=user.employee,
            repeatable=False,
        )
        if entry["outcome"] == OK and answer.status == 200:
            user.password, user.changed_at = new, entry["end"]
            self._revoked(sid, token, entry["end"], "password")
            grant = answer.body.get("token") if isinstance(answer.body, dict) else None
            if isinstance(grant, dict):
                client.restore({**grant, "skew": 0.0})
                await self._logout(client, name, _sid(grant["token"]), user.employee, order)
        elif entry["outcome"] == OK:
            stale = answer.status == 401 and self._recent(user, entry)
            entry["outcome"], entry["error"] = (STALE if stale else OTHER), f"{answer.status}"
        elif entry["outcome"] == UNAVAILABLE:
            # It may have applied: the next login tries the new password first, then the old.
            user.unsure = (user.unsure[0] if user.unsure else user.password, new)
            user.password = new

    # -- revocations ---------------------------------------------------------------------

    def _revoked(self, sid: str, token: str, at: float, how: str) -> None:
        self.history.record({"type": "revoked", "sid": sid, "token": token, "at": at, "how": how})
        for zone in self.zones:
            task = asyncio.create_task(self._probe(sid, token, zone))
            self._probes.add(task)
            task.add_done_callback(self._probes.discard)

    async def _probe(self, sid: str, token: str, zone: str, final: bool = False) -> None:
        """Renew with the revoked session's token in ``zone`` until it is refused (bounded);
        ``final``: once, after the heal."""
        assert self._http is not None
        url = f"{self.deployment.url('auth', zone)}/v1/tokens/renew"
        until = self.history.now() + PROBE_SECONDS
        while True:
            at = self.history.now()
            try:
                async with self._http.post(
                    url,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=aiohttp.ClientTimeout(total=2),
                ) as answer:
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0  # no answer: neither accepted nor refused
            if status:
                self.history.record(
                    {"type": "probe", "sid": sid, "zone": zone, "at": at, "status": status}
                    | ({"final": True} if final else {})
                )
            if final or status in (401, 403) or at > until:
                return
            await asyncio.sleep(PROBE_PAUSE)

    async def final_probes(self) -> None:
        """Every revoked session, once more in each zone after the heal."""
        revoked = self.history.of("revoked")
        await asyncio.gather(
            *(
                self._probe(e["sid"], e["token"], zone, final=True)
                for e in revoked
                for zone in self.zones
            )
        )

    # -- administrators ------------------------------------------------------------------

    async def _administrator(self, p: Practice, first: int, key: str, victim: bool) -> None:
        """The practice's administrator working in zone ``first``: edits ``key`` of the
        shared employee (the other zone's administrator edits another field), and with
        ``victim`` puts an employee out of service while they are logged in, then back."""
        name = f"{p.id}/admin-{self.zones[first]}"
        order = [self.zones[first], *(z for z in self.zones if z != self.zones[first])]
        count = 0
        while not self.stopping:
            async with self._client(first) as admin:
                entry, _ = await self._op(
                    admin,
                    name,
                    "login",
                    functools.partial(admin.login, p.admin.practice, p.admin.username, PASSWORD),
                    order=order,
                    employee=p.admin.employee,
                )
                while entry["outcome"] == OK and not self.stopping and admin.token is not None:
                    await self._pause(0.5, 2.0)
                    if self.stopping:
                        break
                    if victim and self.rng.random() < 0.3:
                        await self._out_of_service(admin, name, p, first, order)
                        continue
                    count += 1
                    value = f"Naam {first}-{count}" if key == "name" else f"+316{first}{count:07d}"
                    await self._edit(admin, name, p, key, value, order)
            await self._pause(0.5, 1.0)

    async def _edit(
        self,
        admin: TweestapClient,
        name: str,
        p: Practice,
        key: str,
        value: str,
        order: Sequence[str] = (),
    ) -> None:
        path = f"/v1/practices/{p.id}/employees/{p.merged}"
        await self._admin_put(
            admin,
            name,
            "admin-edit",
            path,
            {key: value},
            order,
            employee=f"{p.id}/{p.merged}",
            field=key,
            value=value,
        )

    async def _out_of_service(
        self, admin: TweestapClient, name: str, p: Practice, first: int, order: list[str]
    ) -> None:
        """The victim logs in; the administrator puts them out of service (their session is
        revoked: probed), then back in service."""
        assert p.victim is not None
        victim = p.victim
        path = f"/v1/practices/{p.id}/employees/{victim.employee}"
        async with self._client(first) as client:
            entry, _ = await self._password_login(
                client, f"{p.id}/{victim.username}", "victim-login", victim, order
            )
            token = client.token
        if entry["outcome"] != OK or token is None:
            return
        sid = _sid(token)
        entry, done = await self._admin_put(
            admin,
            name,
            "out-of-service",
            path,
            {"in_service": False},
            order,
            employee=victim.employee,
            sids=[sid],
        )
        if done:
            self._revoked(sid, token, entry["end"], "out-of-service")
        while True:  # back in service, whatever it takes (until the run stops)
            await self._pause(1.0, 2.0)
            entry, done = await self._admin_put(
                admin,
                name,
                "in-service",
                path,
                {"in_service": True},
                order,
                employee=victim.employee,
            )
            if done or self.stopping or entry["outcome"] in (OTHER, ENDED):
                return

    async def _admin_put(
        self,
        admin: TweestapClient,
        name: str,
        kind: str,
        path: str,
        body: dict[str, Any],
        order: Sequence[str],
        **fields: Any,
    ) -> tuple[Entry, bool]:
        """The administrator's ``PUT`` of ``body`` at enrolment's ``path``, recorded as
        ``kind``: the entry, and whether enrolment took it (another answer is OTHER)."""
        entry, answer = await self._op(
            admin,
            name,
            kind,
            lambda: admin.request("enrolment", "PUT", path, body),
            order=order,
            **fields,
        )
        if entry["outcome"] != OK:
            return entry, False
        if answer.status != 200:
            entry["outcome"], entry["error"] = OTHER, f"{answer.status} {answer.body}"
        return entry, answer.status == 200

    # -- the lockout ---------------------------------------------------------------------

    async def _guesser(self, p: Practice) -> None:
        """Wrong passwords for unknown usernames, in either zone: counted like any."""
        while not self.stopping:
            ghost = self.rng.choice(p.ghosts)
            first = self.rng.randrange(len(self.zones))
            order = [self.zones[first], *(z for z in self.zones if z != self.zones[first])]
            wrong = f"Fout-{secrets.token_hex(4)}-Wachtwoord!"
            async with self._client(first) as client:
                await self._op(
                    client,
                    f"{p.id}/guesser",
                    "guess",
                    functools.partial(client.login, p.id, ghost, wrong),
                    order=order,
                    username=ghost,
                )
            await self._pause(0.3, 1.0)

    # -- notifications -------------------------------------------------------------------

    async def _notifications(self) -> None:
        """``notify.requested`` on the bus as a Tweestap service sends it (tagged under the
        deployment's keys); acknowledged ones must reach the mail sink."""
        tags = BusTags(Keyring.parse(self.deployment.sealing_keys))
        producer = AIOKafkaProducer(
            bootstrap_servers=self.deployment.broker_bootstrap, request_timeout_ms=10_000
        )
        started = False
        count = 0
        try:
            while not self.stopping:
                if not started:
                    try:
                        await asyncio.wait_for(producer.start(), 10)
                        started = True
                    except Exception:  # the broker paused: again after a while
                        await self._pause(1.0, 2.0)
                        continue
                count += 1
                await self._notify(producer, tags, count)
                await self._pause(0.5, 1.5)
        finally:
            if started:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 10)

    async def _notify(self, producer: AIOKafkaProducer, tags: BusTags, count: int) -> None:
        event = factor_changed_mail(
            self.practices[0].id, f"chaos-{count}@example.nl", f"Chaos {count}", f"chaos-{count}"
        )
        value, key = event.model_dump_json().encode(), event.key.encode()
        at = self.history.now()
        acked, error = False, None
        try:
            await asyncio.wait_for(
                producer.send_and_wait(
                    NOTIFY_REQUESTS.name,
                    value,
                    key=key,
                    headers=tags.headers(NOTIFY_REQUESTS.name, key, value),
                ),
                12,
            )
            acked = True
        except Exception as exc:  # not acknowledged: it may or may not arrive
            error = f"{type(exc).__name__}: {exc}"[:200]
        self.history.record(
            {
                "type": "notify",
                "request_id": str(event.id),
                "at": at,
                "end": self.history.now(),
                "acked": acked,
                "error": error,
            }
        )

    # -- saturation ----------------------------------------------------------------------

    async def saturate(self, seconds: float) -> None:
        """A crowd of ``CROWD`` login loops without pause for ``seconds``: more password
        steps at once than the machine hashes."""
        until = self.history.now() + seconds

        async def loop(index: int) -> None:
            account = self.crowd[index % len(self.crowd)]
            first = index % len(self.zones)
            order = [self.zones[first], *(z for z in self.zones if z != self.zones[first])]
            while self.history.now() < until and not self.stopping:
                async with self._client(first) as client:
                    await self._op(
                        client,
                        f"crowd-{index}",
                        "login",
                        functools.partial(
                            client.login, account.practice, account.username, account.password
                        ),
                        order=order,
                        employee=account.employee,
                        saturation=True,
                    )

        await asyncio.gather(*(loop(i) for i in range(CROWD)))

    # -- two factors ---------------------------------------------------------------------

    async def _two_factor_practice(self, tag: str) -> None:
        """A practice that requires two factors and its employees, each enrolled with an
        authenticator app through the wizard (the activation code from the mail sink)."""
        p = await self._bootstrap(f"chaos-{tag}-totp")
        async with self._client(0) as admin:
            await admin.login(p.admin.practice, p.admin.username, p.admin.password)
            for index in range(TOTP_USERS):
                account = await self._employee(admin, p, f"totp{index}", self._person(index))
                p.users.append(account)
            # The administrator too needs an app once two factors are required.
            person = self._person(TOTP_USERS)
            path = f"/v1/practices/{p.id}/employees/{p.admin.employee}"
            answer = await admin.request("enrolment", "PUT", path, person)
            if answer.status != 200:
                raise RuntimeError(f"administrator's data: {answer.status} {answer.body}")
            p.admin.email, p.admin.birth, p.admin.bsn = (
                person["email"],
                person["birth_date"],
                person["bsn"],
            )
            answer = await admin.request(
                "enrolment",
                "PUT",
                f"/v1/practices/{p.id}",
                {
                    "password_policy": {"min_strength": 60},
                    "two_factor_required": True,
                    "confirm_incomplete": True,
                },
            )
            if answer.status != 200:
                raise RuntimeError(f"two factors on: {answer.status} {answer.body}")
        for zone in self.zones:
            await self._until(zone, "SELECT two_factor_required FROM practices WHERE id = $1", p.id)
        self.two_factor = p
        for user in [*p.users, p.admin]:
            async with self._client(0) as client:
                if not await self._enrol(client, f"{p.id}/{user.username}", user, ["a", "b"]):
                    raise RuntimeError(f"{user.username} could not enrol")

    @staticmethod
    def _person(index: int) -> dict[str, Any]:
        return {
            "birth_date": "1980-05-17",
            "bsn": "111222333",
            "email": f"totp{index}-{secrets.token_hex(3)}@example.nl",
        }

    async def _until(self, zone: str, query: str, *args: Any, service: str = "auth") -> None:
        """Until ``query`` finds something in the zone's database of ``service``."""
        conn = await asyncpg.connect(self.deployment.dsn(service, zone))
        try:
            for _ in range(300):
                if await conn.fetchval(query, *args):
                    return
                await asyncio.sleep(0.1)
            raise TimeoutError(f"zone {zone}: {query}")
        finally:
            await conn.close()

    async def _enrol(
        self, client: TweestapClient, name: str, user: Account, order: list[str]
    ) -> bool:
        """The wizard: password login (``next`` enrol), the activation code from the mail,
        birth date and BSN, the first code; the secret kept on ``user``."""
        entry, step = await self._password_login(client, name, "enrol-login", user, order)
        if entry["outcome"] != OK or step.next != "enrol" or step.enrolment_token is None:
            return False
        token = step.enrolment_token
        since = time.time()

        async def wizard() -> str:
            started = await client.request("enrolment", "POST", "/v1/enrolment", token=token)
            if started.status != 200:
                raise TweestapError(started.status, started.body)
            code = await self._activation_code(str(user.email), since)
            identity = {"activation_code": code, "birth_date": user.birth, "bsn": user.bsn}
            path = f"/v1/enrolment/{started.body['enrolment_id']}"
            shown = await client.request(
                "enrolment", "POST", f"{path}/identity", identity, token=token
            )
            if shown.status != 200:
                raise TweestapError(shown.status, shown.body)
            secret = str(shown.body["secret"])
            # Used steps only go forward over all of an employee's factors (the replay rule):
            # the new app's first code too, within a step of now.
            step = await self._next_step(user)
            first = {"code": totp_at_step(secret, step)}
            done = await client.request("enrolment", "POST", f"{path}/confirm", first, token=token)
            if done.status != 200:
                raise TweestapError(done.status, done.body)
            user.last_step = step
            return secret

        entry, secret = await self._op(
            client, name, "enrol", wizard, order=order, employee=user.employee
        )
        if entry["outcome"] != OK:
            return False
        user.secret = secret
        return True

    async def _activation_code(self, address: str, since: float) -> str:
        """The code in the newest activation mail to ``address`` since ``since``."""
        parser = email.parser.BytesParser(policy=email.policy.default)
        for _ in range(600):
            found = []
            for path in self.deployment.mail_folder.glob("*.eml"):
                if path.stat().st_mtime < since - 1:
                    continue
                message = parser.parsebytes(path.read_bytes())
                if address in str(message.get("To", "")):
                    found.append((path.name, message))
            for _, message in sorted(found, key=lambda f: f[0], reverse=True):
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                match = re.search(r"^    (\S+)\s*$", str(text), re.MULTILINE)
                if match:
                    return match.group(1)
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no activation mail to {address}")

    async def _two_factor_sessions(self, user: Account, first: int) -> None:
        """Password and app code, renew, call, log out; now and then the administrator
        deactivates the employee's factors (their sessions end) and they enrol again."""
        name = f"{user.practice}/{user.username}"
        order = [self.zones[first], *(z for z in self.zones if z != self.zones[first])]
        while not self.stopping:
            async with self._client(first) as client:
                if user.secret is None:
                    # A failed wizard is tried again later: each start mails a code, and the
                    # codes an employee may be sent are limited (429 too-many-codes).
                    if not await self._enrol(client, name, user, order):
                        await self._pause(20.0, 40.0)
                    continue
                entry = await self._totp_login(client, name, user, order)
                if entry["outcome"] == OK and client.token is not None:
                    sid = _sid(client.token)
                    entry["sids"] = [sid]
                    if await self._use(client, name, sid, user.employee, order):
                        if self.rng.random() < 0.25:
                            await self._deactivate(name, user, sid, client.token, order)
                        else:
                            await self._logout(client, name, sid, user.employee, order)
            await self._pause(0.5, 2.0)

    @staticmethod
    async def _next_step(user: Account) -> int:
        """A TOTP time step after the last one used, at most one ahead of now (waiting for
        the next step when the one ahead is used already)."""
        now = time_step(datetime.now(UTC))
        if user.last_step >= now + 1:
            await asyncio.sleep((now + 1) * PERIOD - time.time() + 0.5)
            now = time_step(datetime.now(UTC))
        return max(now, user.last_step + 1)

    async def _totp_login(
        self, client: TweestapClient, name: str, user: Account, order: list[str]
    ) -> Entry:
        """A code of a time step not used before (the replay rule), up to one step ahead."""
        assert user.secret is not None
        step_no = await self._next_step(user)
        secret = user.secret

        async def login() -> Any:
            step = await client.login(user.practice, user.username, user.password)
            if step.next != "second_factor":
                raise RuntimeError(f"login at {step.next}")
            user.last_step = step_no
            return await step.verify("totp", code=totp_at_step(secret, step_no))

        entry, _ = await self._op(
            client, name, "totp-login", login, order=order, employee=user.employee
        )
        if entry["outcome"] == OTHER and "login at enrol" in str(entry["error"]):
            user.secret = None  # deactivated: enrol again
            entry["outcome"] = DOCUMENTED
        return entry

    async def _deactivate(
        self, name: str, user: Account, sid: str, token: str, order: list[str]
    ) -> None:
        """The administrator deactivates the employee's second factors (sessions end)."""
        p = self.two_factor
        assert p is not None
        path = f"/v1/practices/{p.id}/employees/{user.employee}/factors"
        async with self._client(self.zones.index(order[0])) as admin, self._admin_app:
            if p.admin.secret is None:  # an earlier enrolment of the administrator failed
                await self._enrol(admin, f"{p.id}/admin", p.admin, order)
                return
            entry = await self._totp_login(admin, f"{p.id}/admin", p.admin, order)
            if entry["outcome"] != OK:
                return
            entry, answer = await self._op(
                admin,
                f"{p.id}/admin",
                "deactivate-factors",
                lambda: admin.request("enrolment", "DELETE", path),
                order=order,
                employee=user.employee,
                sids=[sid],
            )
        if entry["outcome"] == OK and answer.status == 204:
            self._revoked(sid, token, entry["end"], "factors-deactivated")
            user.secret = None
        elif entry["outcome"] == OK:
            entry["outcome"], entry["error"] = OTHER, f"{answer.status} {answer.body}"


def factor_changed_mail(practice: str, recipient: str, name: str, subject: str) -> Envelope:
    """A ``notify.requested`` as enrolment writes it when ``name`` added an authenticator app:
    an e-mail to ``recipient`` (what the load, and the notifier's fault test, send)."""
    body = NotifyRequest(
        channel="email",
        template="factor_changed",
        locale="en",
        recipient=recipient,
        parameters={
            "employee_name": name,
            "practice_name": practice,
            "change": "authenticator app added",
            "changed_at": "now",
        },
    )
    return Envelope(
        type="notify.requested",
        source="enrolment@a",
        practice=practice,
        subject=subject,
        data=body.model_dump(mode="json"),
    )
