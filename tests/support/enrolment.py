"""The enrolment service with auth (and, given an SMTP sink, the notifier) in one zone, for
tests: the :class:`Rig` and its fixture, Piet's data, a practice that requires two factors,
Piet's login to enrolment and the whole TOTP wizard, an administrator setting a password."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.enrolment.bootstrap import Enrolment
from services.enrolment.http import ENROLMENT
from shared.events import factor_aad
from shared.http import RUNTIME
from tests.support.bus import read_topic
from tests.support.cluster import ADMIN_PASSWORD, KEYRING, Cluster, Zone, login, wait_for
from tests.support.mail import SmtpSink, text_of
from tests.support.tokens import bearer, knows_tokens_of, session_token

P = "fysio"
PRACTICE_EMAIL = "praktijk@fysio-jansen.nl"
PIET = "piet01"
PIET_EMAIL = "piet.devries@fysio-jansen.nl"
PIET_BSN = "111222333"
PIET_BIRTH = "1980-05-17"
PIET_PHONE = "+31612345678"
PIET_PASSWORD = "Kruisbes-Vlinder-Aardbei-42!"
PROBLEM = "application/problem+json"


def totp(secret: str, ahead: int = 0) -> str:
    """The code of now (+ ``ahead`` seconds), from oathtool (not from the code under test)."""
    out = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "-N", f"now + {ahead} seconds"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@dataclass
class Gateway:
    """A real HTTP SMS gateway (the notifier's HTTP provider posts here)."""

    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.json_response({"status": "queued"})

    def texts(self, to: str) -> list[str]:
        return [str(m["text"]) for m in self.received if m["to"] == to]


@dataclass
class Rig:
    cluster: Cluster
    auth: Zone
    enrol: Zone
    admin: str
    admin_token: str
    smtp: SmtpSink | None = None
    gateway: Gateway | None = None

    @property
    def service(self) -> Enrolment:
        return self.enrol.app[ENROLMENT]

    @property
    def pool(self) -> Any:
        return self.enrol.app[RUNTIME].pool

    def topic(self, name: str) -> str:
        return str(self.enrol.settings.topic(name))

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        zone: Zone | None = None,
    ) -> tuple[int, Any]:
        """A request to this zone's enrolment service (or ``zone``'s)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = (zone or self.enrol).client
        response = await client.request(method, path, json=body, headers=headers)
        if response.status == 204:
            return 204, None
        if response.status >= 400:
            assert response.content_type == PROBLEM, await response.text()
        return response.status, await response.json(content_type=None)

    def token(
        self,
        employee: str,
        rights_group: int = 2,
        aal: str = "aal2",
        amr: Sequence[str] = ("pwd", "otp"),
        auth_time: datetime | None = None,
        practice: str = P,
        precise: bool = False,
    ) -> str:
        """A session token as auth issues it after a two-factor login, signed by auth (with
        ``precise``, ``auth_time`` keeps its fraction of a second)."""
        return session_token(
            self.auth,
            employee,
            practice=practice,
            rights_group=rights_group,
            aal=aal,
            amr=amr,
            auth_time=auth_time,
            precise=precise,
        )

    def admin2(self) -> str:
        """The administrator with a two-factor session (needed once the practice requires
        two factors: password-only sessions end then)."""
        return self.token(self.admin, rights_group=1)

    async def events(
        self, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Every event on ``topic`` from the beginning, read until ``until`` holds."""
        return await read_topic(self.cluster.broker.bootstrap, self.topic(topic), until, timeout)

    async def mails(self, address: str, subject: str, count: int = 1) -> list[EmailMessage]:
        """The messages to ``address`` whose subject contains ``subject``, once ``count``."""
        assert self.smtp is not None
        inbox = self.smtp.inbox

        async def arrived() -> list[EmailMessage]:
            found = [m for m in inbox.to(address) if subject in str(m["Subject"])]
            return found if len(found) >= count else []

        return await wait_for(arrived, 20)

    async def code(self, address: str, subject: str, count: int = 1) -> str:
        message = (await self.mails(address, subject, count))[count - 1]
        match = re.search(r"^    (\S+)\s*$", text_of(message), re.MULTILINE)
        assert match, text_of(message)
        return match.group(1)


async def start(
    cluster: Cluster,
    smtp: SmtpSink | None = None,
    sms: bool = False,
    **overrides: Any,
) -> AsyncIterator[Rig]:
    auth = await cluster.start("a")
    enrol = await cluster.start("a", "enrolment", **overrides)
    gateway = None
    server = None
    if smtp is not None:
        notifier_settings: dict[str, Any] = {"smtp_port": smtp.port}
        if sms:
            gateway = Gateway()
            app = web.Application()
            app.router.add_post("/sms", gateway.handle)
            server = TestServer(app)
            await server.start_server()
            notifier_settings["sms_url"] = str(server.make_url("/sms"))
        await cluster.start("a", "notifier", **notifier_settings)
    admin = await cluster.bootstrap(auth)
    rig = Rig(cluster, auth, enrol, admin, "", smtp, gateway)

    await wait_for(functools.partial(knows_tokens_of, rig.pool, auth, P, admin))
    status, body = await login(auth, P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    rig.admin_token = body["token"]["token"]
    try:
        yield rig
    finally:
        if server is not None:
            await server.close()


@pytest.fixture
async def rig(cluster: Cluster) -> AsyncIterator[Rig]:
    async for r in start(cluster):
        yield r


PIET_DATA = {
    "username": "piet",
    "name": "Piet de Vries",
    "birth_date": PIET_BIRTH,
    "email": PIET_EMAIL,
    "bsn": PIET_BSN,
    "phone": PIET_PHONE,
    "rights_group": 2,
}


async def in_auth(rig: Rig, sql: str, *args: Any) -> bool:
    return bool(await rig.auth.auth.pool.fetchval(sql, *args))


async def two_factor_practice(rig: Rig) -> None:
    """Practice e-mail and strength 60; Piet complete, with a password at auth; then two
    factors required (the administrator lacks data: confirmed)."""
    status, body = await rig.call(
        "PUT",
        f"/v1/practices/{P}",
        rig.admin_token,
        {"email": PRACTICE_EMAIL, "password_policy": {"min_strength": 60}},
    )
    assert status == 200, body
    status, body = await rig.call(
        "PUT", f"/v1/practices/{P}/employees/{PIET}", rig.admin_token, PIET_DATA
    )
    assert status == 200, body
    await wait_for(lambda: in_auth(rig, "SELECT 1 FROM employees WHERE id = $1", PIET))
    response = await rig.auth.client.put(
        f"/v1/practices/{P}/employees/{PIET}/password",
        json={"password": PIET_PASSWORD, "temporary": False},
        headers={"Authorization": f"Bearer {rig.admin_token}"},
    )
    assert response.status == 200, await response.text()
    status, body = await rig.call(
        "PUT",
        f"/v1/practices/{P}",
        rig.admin_token,
        {"two_factor_required": True, "confirm_incomplete": True},
    )
    assert status == 200 and body["two_factor_required"], body
    await wait_for(
        lambda: in_auth(rig, "SELECT two_factor_required FROM practices WHERE id = $1", P)
    )


async def enrol_login(rig: Rig) -> tuple[str, str]:
    """Piet's password login at auth → (login id, enrolment token)."""
    status, body = await login(rig.auth, P, "piet", PIET_PASSWORD)
    assert status == 200 and body["next"] == "enrol", body
    return body["login_id"], body["enrolment_token"]


async def enrol_totp(rig: Rig, token: str, activations: int = 1) -> dict[str, Any]:
    """The whole wizard with ``token``; the ``activations``-th activation mail has the code."""
    status, started = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200, started
    code = await rig.code(PIET_EMAIL, "activatiecode", activations)
    status, shown = await rig.call(
        "POST",
        f"/v1/enrolment/{started['enrolment_id']}/identity",
        token,
        {"activation_code": code, "birth_date": PIET_BIRTH, "bsn": PIET_BSN},
    )
    assert status == 200, shown
    status, done = await rig.call(
        "POST",
        f"/v1/enrolment/{started['enrolment_id']}/confirm",
        token,
        {"code": totp(shown["secret"])},
    )
    assert status == 200, done
    return {**started, **shown, **done}


def opened(event: dict[str, Any]) -> dict[str, Any]:
    data = event["data"]
    body: dict[str, Any] = json.loads(
        KEYRING.open(
            data["sealed"], factor_aad(event["practice"], data["employee"], data["factor"])
        )
    )
    return body


async def set_password(
    zone: Zone, token: str, employee: str, password: str | None = None
) -> aiohttp.ClientResponse:
    """The administrator's route; a fresh strong password by default (history refuses reuse)."""
    return await zone.client.put(
        f"/v1/practices/{P}/employees/{employee}/password",
        json={
            "password": password or f"Vlinder-{uuid.uuid4().hex[:8]}-Aardbei!",
            "temporary": False,
        },
        headers=bearer(token),
    )


async def put_piet(rig: Rig, **fields: Any) -> None:
    """Piet through the directory (enrolment's admin API), then seen by auth."""
    body = {"username": "piet", "name": "Piet de Vries", "rights_group": 2, **fields}
    status, answer = await rig.call(
        "PUT", f"/v1/practices/{P}/employees/{PIET}", rig.admin_token, body
    )
    assert status == 200, answer
    await wait_for(
        lambda: in_auth(
            rig,
            "SELECT 1 FROM employees WHERE id = $1 AND rights_group = $2 AND in_service = $3",
            PIET,
            body["rights_group"],
            body.get("in_service", True),
        )
    )
