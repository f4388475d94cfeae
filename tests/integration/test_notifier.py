"""The notifier against a real SMTP server (aiosmtpd) and a real HTTP SMS gateway."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from services.dev.infra import Broker, Postgres, free_port
from shared.events import Envelope, NotifyRequest, PracticeUpserted, notify_aad, utcnow
from shared.sealing import Keyring
from tests.support.bus import read_events
from tests.support.cluster import SEALING, wait_for
from tests.support.notifier import NotifierRig, notifier_settings, producer_for, running, serving

PRACTICE_EMAIL = "praktijk@fysio-jansen.nl"


@dataclass
class Mailbox:
    """An SMTP server that can answer 451 (try later) or 550 (no such user) on demand."""

    messages: list[EmailMessage] = field(default_factory=list)
    temporary_failures: int = 0
    rejected: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options: Any
    ) -> str:
        if address in self.rejected:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 Try again later"
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Accepted"


@dataclass
class Gateway:
    """An SMS gateway answering with the queued statuses, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(await request.json())
            self.headers.append(request.headers.get("X-Api-Key", ""))
        return web.json_response({"status": status}, status=status)


@dataclass
class Rig(NotifierRig):
    mailbox: Mailbox
    gateway: Gateway
    smtp: Controller

    async def practice(self, email_address: str | None, version: int = 1) -> None:
        body = PracticeUpserted(
            name="Fysiotherapie Jansen",
            email=email_address,
            version=version,
            updated_at=utcnow(),
            zone="a",
        )
        event = Envelope(
            type="practice.upserted",
            source="enrolment@a",
            practice="fysio",
            subject="fysio",
            data=body.model_dump(mode="json"),
        )
        await self.send("directory.practices", event.model_dump_json().encode())

        async def applied() -> bool:
            return bool(await self.pool.fetchval("SELECT version = $1 FROM practices", version))

        await wait_for(applied)

    async def request(
        self,
        channel: str,
        template: str,
        recipient: str,
        params: dict[str, str | int],
        code: str | None = None,
        locale: str = "nl",
        request_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        rid = request_id or uuid.uuid4()
        sealed = {}
        if code is not None:
            sealed["code"] = Keyring.parse(SEALING).seal(
                code.encode(), notify_aad("fysio", rid, "code")
            )
        body = NotifyRequest(
            channel=channel,
            template=template,
            locale=locale,
            recipient=recipient,
            parameters=params,
            sealed=sealed,
        )
        event = Envelope(
            id=rid,
            type="notify.requested",
            source="enrolment@a",
            practice="fysio",
            subject=recipient,
            data=body.model_dump(mode="json"),
        )
        await self.send("notify.requests", event.model_dump_json().encode())
        return rid


@pytest.fixture
async def rig(
    postgres: Postgres, broker: Broker, request: pytest.FixtureRequest
) -> AsyncIterator[Rig]:
    """The notifier with an SMTP server and SMS gateway; ``request.param`` (indirect) sets
    notifier settings over the rig's."""
    mailbox, gateway = Mailbox(), Gateway()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    app = web.Application()
    app.router.add_post("/sms", gateway.handle)
    async with serving(app) as sms_port:
        settings = notifier_settings(
            postgres,
            broker,
            "n",
            smtp_port=smtp_port,
            sms_url=f"http://127.0.0.1:{sms_port}/sms",
            sms_auth_header="X-Api-Key: test-key",
            sms_body_fields={"to": "recipient"},
            sms_extra_fields={"account": "praktijk-42"},
            retry_max_seconds=0.2,
            send_timeout_seconds=2,
        ).model_copy(update=getattr(request, "param", {}))
        async with producer_for(settings) as producer:
            r = Rig(settings, broker, producer, mailbox, gateway, smtp)
            try:
                async with running(r):
                    yield r
            finally:
                r.smtp.stop()


PARAMS: dict[str, dict[str, str | int]] = {
    "activation_code": {
        "employee_name": "Piet",
        "practice_name": "Fysiotherapie Jansen",
        "expires_minutes": 60,
    },
    "login_code": {
        "employee_name": "Piet",
        "practice_name": "Fysiotherapie Jansen",
        "expires_minutes": 5,
    },
    "lockout_notice": {
        "employee_name": "Piet",
        "practice_name": "Fysiotherapie Jansen",
        "username": "piet",
        "locked_until": "23-11-2026 10:30",
    },
    "fallback_alert": {
        "employee_name": "Piet",
        "practice_name": "Fysiotherapie Jansen",
        "username": "piet",
        "used_at": "23-11-2026 10:00",
        "certificate": "CN=Piet, O=Fysio",
        "uses_left": 2,
    },
    "certificate_expiry": {
        "practice_name": "Fysiotherapie Jansen",
        "certificate": "CN=Vecozo",
        "serial": "0A 1B",
        "expires_at": "01-12-2026",
        "days_left": 7,
    },
}
CODES = {"activation_code": "K7P-Q2X-9M", "login_code": "482913"}


@pytest.mark.parametrize("locale", ["nl", "en"])
async def test_every_template_is_delivered_in_both_languages(rig: Rig, locale: str) -> None:
    await rig.practice(PRACTICE_EMAIL)
    sent = {}
    for i, (template, params) in enumerate(PARAMS.items()):
        to = f"piet{i}@example.nl"
        sent[to] = (
            template,
            await rig.request("email", template, to, params, CODES.get(template), locale),
        )
    for _, rid in sent.values():
        await rig.wait_status(rid, "delivered")
    assert len(rig.mailbox.messages) == len(PARAMS)
    subjects = set()
    for message in rig.mailbox.messages:
        template, rid = sent[str(message["To"])]
        assert PRACTICE_EMAIL in str(message["From"])
        assert str(rid) in str(message["X-Tweestap-Request"])
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Fysiotherapie Jansen" in text and "Fysiotherapie Jansen" in html
        if template in CODES:
            assert CODES[template] in text and CODES[template] in html
        subjects.add(str(message["Subject"]))
    assert len(subjects) == len(PARAMS), "each template has its own subject"
    dutch = any("tweestap" in s.lower() or "code" in s.lower() for s in subjects)
    assert dutch


async def test_secrets_stay_sealed_on_the_topic_and_in_the_queue(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    rid = await rig.request(
        "email", "login_code", "piet@example.nl", PARAMS["login_code"], "482913"
    )
    await rig.wait_status(rid, "delivered")
    stored = await rig.pool.fetchval("SELECT sealed::text FROM messages WHERE request_id = $1", rid)
    assert "482913" not in stored
    events = await read_events(
        rig.broker, rig.settings.topic("notify.requests"), lambda ev: len(ev) >= 1
    )
    assert events and "482913" not in str(events)


async def test_temporary_smtp_failure_is_retried_and_delivered_once(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    rig.mailbox.temporary_failures = 2
    rid = await rig.request(
        "email", "login_code", "piet@example.nl", PARAMS["login_code"], "111222"
    )
    attempts = await rig.wait_status(rid, "delivered")
    assert attempts == 3 and len(rig.mailbox.messages) == 1
    results = await read_events(
        rig.broker, rig.settings.topic("notify.results"), lambda ev: len(ev) >= 1
    )
    assert results[0]["data"]["status"] == "delivered" and results[0]["data"]["attempts"] == 3


async def test_rejected_recipient_is_dead_lettered_without_retry(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    rig.mailbox.rejected.add("nobody@example.nl")
    rid = await rig.request("email", "login_code", "nobody@example.nl", PARAMS["login_code"], "1")
    assert await rig.wait_status(rid, "failed") == 1
    dlq = await read_events(rig.broker, rig.settings.topic("notify.dlq"), lambda ev: len(ev) >= 1)
    assert dlq[0]["data"]["reason"] == "smtp-550" and dlq[0]["data"]["request_id"] == str(rid)
    assert rig.mailbox.messages == []


async def test_no_practice_email_is_a_clear_failure(rig: Rig) -> None:
    await rig.practice(None)
    rid = await rig.request("email", "login_code", "piet@example.nl", PARAMS["login_code"], "9")
    assert await rig.wait_status(rid, "failed") == 4, "tried until the attempts run out"
    results = await read_events(
        rig.broker, rig.settings.topic("notify.results"), lambda ev: len(ev) >= 1
    )
    assert results[0]["data"]["reason"] == "gave-up:practice-email-missing"
    assert rig.mailbox.messages == []


@pytest.mark.parametrize("rig", [{"max_attempts": 100}], indirect=True)
async def test_a_message_waits_for_the_practice_email_that_is_on_its_way(rig: Rig) -> None:
    """The practice's address travels on another topic than the request (the console sets it
    just before an enrolment mails): the message is kept until it arrives, not failed."""
    await rig.practice(None)
    rid = await rig.request("email", "login_code", "piet@example.nl", PARAMS["login_code"], "9")

    async def tried() -> bool:
        return (await rig.status(rid))[1] >= 2

    await wait_for(tried, timeout=20, interval=0.05)
    await rig.practice(PRACTICE_EMAIL, version=2)
    await rig.wait_status(rid, "delivered")
    assert len(rig.mailbox.messages) == 1


async def test_sms_gateway_500_then_200_and_400(rig: Rig) -> None:
    rig.gateway.statuses = [500, 429]
    rid = await rig.request("sms", "login_code", "+31612345678", PARAMS["login_code"], "654321")
    assert await rig.wait_status(rid, "delivered") == 3
    assert len(rig.gateway.received) == 1
    sms = rig.gateway.received[0]
    assert sms["recipient"] == "+31612345678" and sms["account"] == "praktijk-42"
    assert "654321" in sms["text"] and len(sms["text"]) <= 160
    assert rig.gateway.headers == ["test-key"]
    rig.gateway.statuses = [400]
    bad = await rig.request("sms", "login_code", "+31612345679", PARAMS["login_code"], "1")
    assert await rig.wait_status(bad, "failed") == 1
    assert len(rig.gateway.received) == 1


async def test_duplicate_request_id_is_delivered_once(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    rid = uuid.uuid4()
    for _ in range(3):
        await rig.request(
            "email", "login_code", "piet@example.nl", PARAMS["login_code"], "5", request_id=rid
        )
    await rig.wait_status(rid, "delivered")
    await asyncio.sleep(1.0)
    assert len(rig.mailbox.messages) == 1


async def test_killed_between_receiving_and_sending_delivers_once_after_restart(
    rig: Rig,
) -> None:
    await rig.practice(PRACTICE_EMAIL)
    rig.smtp.stop()  # received and queued, but the send cannot happen
    rid = await rig.request("email", "login_code", "piet@example.nl", PARAMS["login_code"], "77")
    await wait_for(lambda: _attempted(rig, rid))
    await rig.stop()  # the process goes away with the message queued
    rig.smtp = Controller(rig.mailbox, hostname="127.0.0.1", port=rig.settings.smtp_port)
    rig.smtp.start()
    await rig.start()
    await rig.wait_status(rid, "delivered")
    await asyncio.sleep(1.0)
    assert len(rig.mailbox.messages) == 1


async def _attempted(rig: Rig, rid: uuid.UUID) -> bool:
    status, attempts = await rig.status(rid)
    return attempts >= 1 and status in ("queued", "sending")


async def test_malformed_requests_are_dead_lettered_and_the_consumer_goes_on(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    await rig.send("notify.requests", b"{broken")
    bad = Envelope(
        type="notify.requested",
        source="x@a",
        practice="fysio",
        subject="s",
        data={"channel": "pigeon", "template": "login_code", "recipient": "x@y.nl"},
    )
    await rig.send("notify.requests", bad.model_dump_json().encode())
    rid = await rig.request("email", "login_code", "piet@example.nl", PARAMS["login_code"], "3")
    await rig.wait_status(rid, "delivered")
    dlq = await read_events(rig.broker, rig.settings.topic("notify.dlq"), lambda ev: len(ev) >= 2)
    reasons = [e["data"]["reason"] for e in dlq]
    assert any("not an event envelope" in r for r in reasons)
    assert any("channel" in r for r in reasons)


async def test_rate_limit_per_recipient(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    ids = []
    for i in range(4):
        ids.append(
            await rig.request(
                "email", "login_code", "flood@example.nl", PARAMS["login_code"], str(i)
            )
        )
        await rig.wait_status(ids[-1], "delivered" if i < 3 else "failed")
    assert len(rig.mailbox.messages) == 3
    other = await rig.request("email", "login_code", "calm@example.nl", PARAMS["login_code"], "x")
    await rig.wait_status(other, "delivered")


async def test_a_burst_to_one_recipient_delivers_up_to_the_limit(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    ids = [
        await rig.request("email", "login_code", "burst@example.nl", PARAMS["login_code"], str(i))
        for i in range(5)
    ]

    async def settled() -> bool:
        statuses = [(await rig.status(rid))[0] for rid in ids]
        return all(s in ("delivered", "failed") for s in statuses)

    await wait_for(settled)
    statuses = [(await rig.status(rid))[0] for rid in ids]
    assert statuses.count("delivered") == 3 and statuses.count("failed") == 2
    assert len(rig.mailbox.messages) == 3


async def test_a_bad_message_does_not_stop_delivery_of_others(rig: Rig) -> None:
    await rig.practice(PRACTICE_EMAIL)
    params = {**PARAMS["certificate_expiry"], "days_left": "seven"}
    bad = await rig.request("email", "certificate_expiry", "bad@example.nl", params)
    await rig.wait_status(bad, "failed")
    good = await rig.request("email", "login_code", "good@example.nl", PARAMS["login_code"], "8")
    await rig.wait_status(good, "delivered")


async def test_a_request_before_its_practice_waits_for_it(rig: Rig) -> None:
    rid = await rig.request("email", "login_code", "early@example.nl", PARAMS["login_code"], "4")
    await wait_for(lambda: _attempted(rig, rid))
    await rig.practice(PRACTICE_EMAIL)
    await rig.wait_status(rid, "delivered")
    assert len(rig.mailbox.messages) == 1
