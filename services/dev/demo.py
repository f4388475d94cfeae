"""The demo practice of ``tweestap dev`` and its administrator: made on the first start, checked
on every start so that the banner and ``var/dev/demo.json`` say only what is true, and reset on
request (``tweestap dev reset-admin``) through auth's own password store and lockout reset.

The check reads auth's database (the password's hash, the failures since the last reset): it
never logs in, so a stale password is not a guess that counts toward the lockout.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.auth.adapters import repository as repo
from services.auth.bootstrap import offline
from services.auth.domain import lockout
from services.auth.settings import AuthSettings
from shared.events import credential_aad, utcnow
from shared.problems import Problem
from shared.sealing import Keyring

if TYPE_CHECKING:
    from services.dev.deployment import Deployment

DEMO_PRACTICE = "demo"
DEMO_USERNAME = "admin"
RESET_COMMAND = "tweestap dev reset-admin"
DEMO_JSON = "var/dev/demo.json"


@dataclass
class Demo:
    """``var/dev/demo.json``: the demo administrator, and their password while it is the one
    that logs in (None once it was changed through Tweestap: ``note`` says so)."""

    practice: str
    username: str
    employee: str
    password: str | None
    note: str | None = None

    @classmethod
    def load(cls, path: Path) -> Demo | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(
            data["practice"],
            data["username"],
            data["employee"],
            data.get("password"),
            data.get("note"),
        )

    def save(self, path: Path) -> None:
        """Written whole (a reader never sees half of it), readable by this user only."""
        body = {k: v for k, v in asdict(self).items() if k != "note" or v is not None}
        part = path.with_suffix(".json.part")
        part.unlink(missing_ok=True)
        part.touch(mode=0o600)
        part.write_text(json.dumps(body))
        os.replace(part, path)


def demo_file(root: Path) -> Path:
    return root / "dev" / "demo.json"


async def ensure(deployment: Deployment) -> Demo:
    """The demo practice, made on the first start; its administrator can log in in both zones
    when this returns (the banner's first command works)."""
    path = demo_file(deployment.root)
    demo = Demo.load(path)
    if demo is not None:
        return demo
    password = secrets.token_urlsafe(15)
    employee = await deployment.bootstrap(
        DEMO_PRACTICE,
        DEMO_USERNAME,
        password,
        name="Demo Fysiotherapie",
        email="praktijk@demo.tweestap.test",
    )
    demo = Demo(DEMO_PRACTICE, DEMO_USERNAME, employee, password)
    demo.save(path)
    return demo


@dataclass(frozen=True)
class AdminState:
    """The demo administrator as one zone's auth sees them."""

    zone: str
    #: ``demo.json``'s password is their password in this zone.
    password_logs_in: bool
    #: That password is temporary: a login asks for a new one.
    must_change: bool
    locked_until: datetime | None


def _matches(hashed: str, password: str) -> bool:
    try:
        return bool(PasswordHasher().verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False


async def check(deployment: Deployment, demo: Demo) -> list[AdminState]:
    """The administrator in every zone whose PostgreSQL runs (read, never logged in)."""
    keyring = Keyring.parse(deployment.sealing_keys)
    states = []
    now = utcnow()
    for zone in deployment.zones:
        if not deployment.postgres_running(zone):
            continue
        conn = await asyncpg.connect(deployment.dsn("auth", zone))
        try:
            practice = await repo.practice(conn, demo.practice)
            employee = await repo.employee(conn, demo.practice, demo.employee)
            row = await repo.credential_row(conn, demo.practice, demo.employee)
            if practice is None or employee is None:
                continue
            failures, reset_at = await repo.failures(conn, practice.id, employee.username_key)
        finally:
            await conn.close()
        locked = lockout.lock_state(failures, reset_at, practice.policy, now)
        logs_in = must_change = False
        if row is not None and demo.password is not None:
            hashed = _password_hash(keyring, row)
            logs_in = await asyncio.to_thread(_matches, hashed, demo.password)
            must_change = bool(row["must_change"])
        until = locked.locked_until if locked.locked(now) else None
        states.append(AdminState(zone, logs_in, must_change, until))
    return states


def _password_hash(keyring: Keyring, row: asyncpg.Record) -> str:
    """The argon2 hash of a ``credentials`` row (sealed with the deployment's keys)."""
    body = json.loads(keyring.open(row["sealed"], credential_aad(row["practice"], row["employee"])))
    return str(body["hash"])


def record(path: Path, demo: Demo, states: list[AdminState], when: datetime) -> Demo:
    """``demo.json`` as the check found it: a password that logs in nowhere any more is no
    longer kept as if it did."""
    if demo.password is not None and states and not any(s.password_logs_in for s in states):
        demo.password = None
        demo.note = (
            f"The administrator's password was changed through Tweestap (found "
            f"{when:%Y-%m-%d %H:%M} UTC); `{RESET_COMMAND}` sets a new one and unlocks them."
        )
        demo.save(path)
    return demo


def banner(
    demo: Demo, states: list[AdminState], login_url: str, reset: str, file: str = DEMO_JSON
) -> list[str]:
    """What the banner says of the demo administrator: the password and a login that works,
    or why there is none and how to get one (``reset``: the ``tweestap dev reset-admin``
    command line; ``file``: where ``demo.json`` is)."""
    who = f"Demo practice '{demo.practice}', administrator '{demo.username}'"
    locked = [s for s in states if s.locked_until is not None]
    works = [s for s in states if s.password_logs_in]
    lines = []
    if demo.password is not None and works and len(works) == len(states) and not locked:
        temporary = " (temporary: a login asks for a new one)" if works[0].must_change else ""
        return [
            f"{who}, password '{demo.password}'{temporary}",
            "",
            f"  curl -s {login_url}/v1/login -H 'Content-Type: application/json' \\",
            f'    -d \'{{"practice":"{demo.practice}","username":"{demo.username}",'
            f'"password":"{demo.password}"}}\'',
        ]
    if demo.password is None or not works:
        lines.append(
            f"{who}: the password was changed through Tweestap since it was printed "
            f"({file} does not know the new one)."
        )
    elif len(works) < len(states):
        where = ", ".join(s.zone for s in works)
        lines.append(f"{who}, password '{demo.password}': logs in in zone {where} only.")
    until: dict[str, list[str]] = {}
    for state in locked:
        assert state.locked_until is not None
        until.setdefault(f"{state.locked_until:%H:%M:%S}", []).append(state.zone)
    for when, zones in until.items():
        lines.append(
            f"  Locked in zone {', '.join(zones)} until {when} UTC (too many failed logins)."
        )
    lines.append(f"  Forgot it, or locked out? `{reset}` sets a new password and unlocks.")
    return lines


async def _store_password(settings: AuthSettings, demo: Demo, password: str, now: datetime) -> str:
    """The administrator's new password through auth's own password store, as an
    administrator's reset (not temporary, the practice's policy applies, every session ends),
    in ``settings``' zone; returns their username as the lockout keys it. Auth is built here
    as ``tweestap bootstrap`` builds it (:func:`services.auth.bootstrap.offline`)."""
    async with offline(settings) as (adapters, auth):
        async with adapters.pool.acquire() as conn:
            practice = await repo.practice(conn, demo.practice)
            employee = await repo.employee(conn, demo.practice, demo.employee)
            row = await repo.credential_row(conn, demo.practice, demo.employee)
        if practice is None or employee is None:
            raise Problem(404, "not-found", "Not found", f"no {demo.username} in {demo.practice}")
        credential = auth.accounts.credential(row) if row else None
        await auth.passwords.store(
            practice, employee, credential, password, False, True, now, by=employee.id,
            end_sessions=True,
        )  # fmt: skip
        return employee.username_key


async def reset(deployment: Deployment, password: str) -> list[str]:
    """Set the demo administrator's password (not temporary; the practice's policy applies)
    in the first zone that runs, as an administrator's reset does: stored sealed, replicated
    on ``auth.credentials``, ``password.changed``, every session ended. Then clear the lockout
    in every zone whose database runs, as a successful login does, and wait until every
    running zone has the new password. ``demo.json`` keeps it."""
    path = demo_file(deployment.root)
    demo = Demo.load(path)
    if demo is None:
        raise Problem(404, "no-demo-practice", "No demo practice", f"{path} does not exist")
    running = [z for z in deployment.zones if deployment.postgres_running(z)]
    serving = [z for z in running if deployment.is_up("auth", z)]
    if not serving:
        raise Problem(503, "zones-down", "Zones down", "no zone's auth runs: `tweestap zone up a`")
    now = utcnow()
    username_key = await _store_password(deployment.auth_settings(serving[0]), demo, password, now)
    for zone in running:
        conn = await asyncpg.connect(deployment.dsn("auth", zone))
        try:
            await repo.LOGIN_FAILURES.reset(conn, demo.practice, username_key, now)
        finally:
            await conn.close()
    version = await _password_version(deployment, serving[0], demo)
    for zone in serving[1:]:
        await _wait_version(deployment, zone, demo, version)
    demo.password, demo.note = password, None
    demo.save(path)
    said = [
        f"demo administrator '{demo.username}': new password set in zone {serving[0]}, "
        f"every session ended, unlocked in zone {', '.join(running)}"
    ]
    for zone in deployment.zones:
        if zone not in serving:
            said.append(
                f"zone {zone} is down: after `tweestap zone up {zone}` run "
                f"`{RESET_COMMAND}` again to unlock there"
            )
    for line in said:
        deployment.echo(f"{line} ({RESET_COMMAND})")
    return said


async def _password_version(deployment: Deployment, zone: str, demo: Demo) -> int:
    conn = await asyncpg.connect(deployment.dsn("auth", zone))
    try:
        version: int = await conn.fetchval(
            "SELECT version FROM credentials WHERE practice = $1 AND employee = $2",
            demo.practice,
            demo.employee,
        )
        return version
    finally:
        await conn.close()


async def _wait_version(deployment: Deployment, zone: str, demo: Demo, version: int) -> None:
    """Until zone's auth has the administrator's password ``version`` (or a later one)."""
    deadline = time.monotonic() + deployment.settings.ready_timeout_seconds
    conn = await asyncpg.connect(deployment.dsn("auth", zone))
    try:
        while (
            await conn.fetchval(
                "SELECT version FROM credentials WHERE practice = $1 AND employee = $2",
                demo.practice,
                demo.employee,
            )
            or 0
        ) < version:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the new password did not reach zone {zone}")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
