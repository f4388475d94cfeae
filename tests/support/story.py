"""The whole story of issue 4 on real components, for the tests that tell it: auth, enrolment
and the notifier against PostgreSQL, the Kafka-protocol broker and a real SMTP server; TOTP
codes from Debian's ``oathtool``, an independent generator. The story keeps every secret it
used or was given, and every error answer, in its :class:`Witness`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import jwt

from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.mail import SmtpSink, text_of

PRACTICE = "fysio"
PRACTICE_EMAIL = "praktijk@fysio-jansen.nl"
JAN: dict[str, Any] = {
    "username": "jan",
    "name": "Jan de Vries",
    "birth_date": "1980-05-17",
    "email": "jan@fysio-jansen.nl",
    "bsn": "111222333",
    "phone": "+31612345678",
    "rights_group": 2,
    "in_service": True,
}
ADMIN_DATA: dict[str, Any] = {
    "username": "admin",
    "name": "Anna Jansen",
    "birth_date": "1975-02-03",
    "email": "anna@fysio-jansen.nl",
    "bsn": "123456782",
    "rights_group": 1,
    "in_service": True,
}
#: Strength 57 (with the Dutch word lists; "Zomer2024" alone is 37): enough for the default
#: minimum of 50, too weak once the minimum is 60.
WEAK_PASSWORD = "Zomer2024!"
JAN_PASSWORD = "Tulpen-Fiets-Regen-7"


@dataclass
class Authenticator:
    """The employee's phone: codes from oathtool, each time step used once."""

    secret: str
    used: set[int] = field(default_factory=set)

    def code(self, reuse: int | None = None) -> str:
        """A code for an unused step within ±1 of now (or the code of step ``reuse``)."""
        if reuse is None:
            while True:
                now = time.time()
                step = int(now) // 30
                # Near the end of a step, the previous one may be gone when the code arrives.
                candidates = [step, step + 1] if now % 30 > 25 else [step - 1, step, step + 1]
                # The server takes steps only forward per employee: never one at or before
                # the last used.
                last = max(self.used, default=-1)
                free = [s for s in candidates if s > last]
                if free:
                    reuse = free[0]
                    break
                time.sleep(30 - now % 30 + 0.5)
        self.used.add(reuse)
        at = datetime.fromtimestamp(reuse * 30 + 15, tz=UTC)
        out = subprocess.run(
            ["oathtool", "--totp", "-b", self.secret, "--now", f"{at:%Y-%m-%d %H:%M:%S} UTC"],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


#: Keys of request and answer bodies whose values are secrets (a TOTP secret is ``secret``).
SECRET_KEYS = {
    "password": "password",
    "new_password": "password",
    "code": "code",
    "activation_code": "code",
    "recovery_code": "code",
    "bsn": "bsn",
    "secret": "totp_secret",
    "token": "token",
    "enrolment_token": "token",
}


@dataclass
class Witness:
    """Every secret the story used or was given, by kind (``password``, ``code``, ``bsn``,
    ``totp_secret``, ``token``), and every error answer's body, for tests that check where
    they must never appear."""

    secrets: dict[str, set[str]] = field(default_factory=dict)
    error_bodies: list[str] = field(default_factory=list)

    def keep(self, kind: str, value: str) -> None:
        self.secrets.setdefault(kind, set()).add(value)

    def scan(self, value: Any) -> None:
        """Keep the secrets among a request's or an answer's fields (at any depth)."""
        if isinstance(value, dict):
            for key, item in value.items():
                if key in SECRET_KEYS and isinstance(item, str) and item:
                    self.keep(SECRET_KEYS[key], item)
                else:
                    self.scan(item)
        elif isinstance(value, list):
            for item in value:
                self.scan(item)


@dataclass
class Story:
    cluster: Cluster
    auth: Zone
    enrolment: Zone
    sink: SmtpSink
    witness: Witness = field(default_factory=Witness)

    async def call(
        self, zone: Zone, method: str, path: str, token: str | None = None, **body: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await zone.client.request(
            method, path, json=body if method != "GET" else None, headers=headers
        )
        text = await response.text()
        return self._seen(token, body, response.status, text)

    async def login(
        self, zone: Zone, practice: str, username: str, password: str
    ) -> tuple[int, dict[str, Any]]:
        response = await zone.client.post(
            "/v1/login", json={"practice": practice, "username": username, "password": password}
        )
        return self._seen(None, {"password": password}, response.status, await response.text())

    def _seen(
        self, token: str | None, body: dict[str, Any], status: int, text: str
    ) -> tuple[int, dict[str, Any]]:
        answer = json.loads(text) if text else {}
        if token:
            self.witness.keep("token", token)
        self.witness.scan(body)
        self.witness.scan(answer)
        if status >= 400:
            self.witness.error_bodies.append(text)
        return status, answer

    async def practice_known(self, admin_token: str) -> None:
        """Until enrolment knows the practice (bootstrapped at auth)."""

        async def known() -> bool:
            status, _ = await self.call(
                self.enrolment, "GET", f"/v1/practices/{PRACTICE}", admin_token
            )
            return status == 200

        await wait_for(known)

    async def require_two_factors(self, admin_token: str) -> None:
        """Switch two factors on (past incomplete employees), and wait until auth knows."""
        status, practice = await self.call(
            self.enrolment,
            "PUT",
            f"/v1/practices/{PRACTICE}",
            admin_token,
            two_factor_required=True,
            confirm_incomplete=True,
            password_policy={"min_strength": 60},
        )
        assert status == 200 and practice["two_factor_required"] is True, practice

        async def switched_at_auth() -> bool:
            return bool(
                await self.auth.auth.pool.fetchval(
                    "SELECT two_factor_required FROM practices WHERE id = $1", PRACTICE
                )
            )

        await wait_for(switched_at_auth)

    async def verify(self, login_id: str, factor: str, code: str) -> tuple[int, dict[str, Any]]:
        """The second step of a login, in the story's auth zone."""
        return await self.call(
            self.auth, "POST", f"/v1/login/{login_id}/verify", factor=factor, code=code
        )

    async def log_in(
        self, username: str, password: str, factor: str, code: str
    ) -> tuple[int, dict[str, Any]]:
        """Both steps of a login of an employee with a second factor: verify's answer."""
        status, answer = await self.login(self.auth, PRACTICE, username, password)
        assert status == 200 and answer["next"] == "second_factor", answer
        return await self.verify(answer["login_id"], factor, code)

    def activation_mails(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sink.inbox.to(address) if "activatiecode" in str(m["Subject"])]

    async def activation_code(self, address: str, count: int) -> str:
        """The code in the ``count``-th activation e-mail to ``address``, from the practice."""

        async def arrived() -> list[EmailMessage]:
            found = self.activation_mails(address)
            return found if len(found) >= count else []

        message = (await wait_for(arrived, 20.0))[count - 1]
        assert PRACTICE_EMAIL in str(message["From"])
        match = re.search(r"^\s+([A-Z0-9]{8,})\s*$", text_of(message), re.M)
        assert match, text_of(message)
        self.witness.keep("code", match.group(1))
        return match.group(1)

    async def enrol(
        self,
        login_answer: dict[str, Any],
        person: dict[str, Any],
        previous: Authenticator | None = None,
    ) -> tuple[Authenticator, str, dict[str, Any]]:
        """The wizard, then the same login continues at auth's verify: the token."""
        assert login_answer["next"] == "enrol", login_answer
        enrol_token = login_answer["enrolment_token"]
        before = len(self.activation_mails(person["email"]))
        status, started = await self.call(self.enrolment, "POST", "/v1/enrolment", enrol_token)
        assert status == 200, started
        assert started["sent_to"] != person["email"] and "@" in started["sent_to"]
        code = await self.activation_code(person["email"], before + 1)
        status, identity = await self.call(
            self.enrolment,
            "POST",
            f"/v1/enrolment/{started['enrolment_id']}/identity",
            enrol_token,
            activation_code=code,
            birth_date=person["birth_date"],
            bsn=person["bsn"],
        )
        assert status == 200, identity
        assert identity["otpauth_uri"].startswith("otpauth://totp/Tweestap:")
        assert f"secret={identity['secret']}" in identity["otpauth_uri"]
        assert "<svg" in identity["qr_svg"]
        # A new phone of the same employee: steps go on from the last one the old phone used.
        phone = Authenticator(identity["secret"], set(previous.used) if previous else set())
        first = phone.code()
        status, confirmed = await self.call(
            self.enrolment,
            "POST",
            f"/v1/enrolment/{started['enrolment_id']}/confirm",
            enrol_token,
            code=first,
        )
        assert status == 200, confirmed
        assert len(confirmed["recovery_code"].replace("-", "")) >= 16
        # The code used to confirm is spent: the same login continues with it refused …
        status, refused = await self.verify(login_answer["login_id"], "totp", first)
        assert status == 401 and refused["type"].endswith("/code-already-used"), refused
        # … and with the next code it ends in a two-factor token, without the password again.
        status, token = await self.verify(login_answer["login_id"], "totp", phone.code())
        assert status == 200, token
        return phone, confirmed["recovery_code"], token


async def jan_at_auth(auth: Zone) -> None:
    """Until ``auth`` knows Jan (from enrolment's directory)."""

    async def known() -> bool:
        return bool(
            await auth.auth.pool.fetchval(
                "SELECT 1 FROM employees WHERE practice = $1 AND id = 'jan01'", PRACTICE
            )
        )

    await wait_for(known)


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def two_factor_story(cluster: Cluster, smtp_sink: SmtpSink) -> Witness:
    """A practice switches on two factors and an employee lives with it: enrols, logs in with
    the app, uses and renews a recovery code, is deactivated by the administrator and enrols
    again. Asserts every step; returns what the story saw."""
    witness = Witness()
    witness.keep("password", ADMIN_PASSWORD)
    for person in (JAN, ADMIN_DATA):
        witness.keep("bsn", person["bsn"])
    auth = await cluster.start("a")
    enrolment = await cluster.start("a", "enrolment")
    await cluster.start("a", "notifier", smtp_port=smtp_sink.port)
    story = Story(cluster, auth, enrolment, smtp_sink, witness)
    admin_id = await cluster.bootstrap(auth, PRACTICE)

    # The administrator logs in (password only so far) and sets the practice e-mail.
    status, answer = await story.login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
    assert status == 200 and answer["next"] == "done"
    admin_token = answer["token"]["token"]

    await story.practice_known(admin_token)
    status, practice = await story.call(
        enrolment, "PUT", f"/v1/practices/{PRACTICE}", admin_token, email=PRACTICE_EMAIL
    )
    assert status == 200 and practice["email"] == PRACTICE_EMAIL, practice

    # The directory: the administrator's own data, Jan complete, Piet without BSN.
    status, body = await story.call(
        enrolment,
        "PUT",
        f"/v1/practices/{PRACTICE}/employees/{admin_id}",
        admin_token,
        **ADMIN_DATA,
    )
    assert status == 200, body
    status, body = await story.call(
        enrolment, "PUT", f"/v1/practices/{PRACTICE}/employees/jan01", admin_token, **JAN
    )
    assert status == 200 and "bsn" not in body and body["has_bsn"] is True, body
    piet = {**JAN, "username": "piet", "name": "Piet Bakker", "email": "piet@fysio-jansen.nl"}
    del piet["bsn"]
    status, body = await story.call(
        enrolment, "PUT", f"/v1/practices/{PRACTICE}/employees/piet01", admin_token, **piet
    )
    assert status == 200, body

    # Jan gets a password that meets today's minimum (50) but not the coming one (60).
    await jan_at_auth(auth)
    status, body = await story.call(
        auth,
        "PUT",
        f"/v1/practices/{PRACTICE}/employees/jan01/password",
        admin_token,
        password=WEAK_PASSWORD,
        temporary=False,
    )
    assert status == 200 and 50 <= body["strength"] < 60, body

    # Two-factor at minimum strength 50: refused, nothing changed.
    status, refused = await story.call(
        enrolment,
        "PUT",
        f"/v1/practices/{PRACTICE}",
        admin_token,
        two_factor_required=True,
        password_policy={"min_strength": 50},
    )
    assert status == 422 and refused["type"].endswith("/two-factor-not-allowed"), refused
    status, practice = await story.call(enrolment, "GET", f"/v1/practices/{PRACTICE}", admin_token)
    assert practice["two_factor_required"] is False
    assert practice["password_policy"]["min_strength"] == 50

    # At 60: the answer lists Piet (no BSN) and the switch waits for confirmation.
    status, incomplete = await story.call(
        enrolment,
        "PUT",
        f"/v1/practices/{PRACTICE}",
        admin_token,
        two_factor_required=True,
        password_policy={"min_strength": 60},
    )
    assert status == 409 and incomplete["type"].endswith("/employees-incomplete"), incomplete
    assert [(e["username"], e["missing"]) for e in incomplete["employees"]] == [("piet", ["bsn"])]
    status, practice = await story.call(enrolment, "GET", f"/v1/practices/{PRACTICE}", admin_token)
    assert practice["two_factor_required"] is False
    await story.require_two_factors(admin_token)

    # The password-only admin session ends; the administrator enrols too.
    status, _ = await story.call(auth, "POST", "/v1/tokens/renew", admin_token)
    assert status == 401
    status, answer = await story.login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
    _, _, admin_session = await story.enrol(answer, ADMIN_DATA)
    admin_token = admin_session["token"]
    assert claims_of(admin_token)["aal"] == "aal2"

    # Jan: weak password → change it → enrolment → token.
    status, answer = await story.login(auth, PRACTICE, "jan", WEAK_PASSWORD)
    assert status == 200 and answer["next"] == "change_password", answer
    status, answer = await story.call(
        auth, "POST", f"/v1/login/{answer['login_id']}/password", new_password=JAN_PASSWORD
    )
    assert status == 200, answer
    phone, recovery, session = await story.enrol(answer, JAN)
    claims = claims_of(session["token"])
    assert claims["aal"] == "aal2" and claims["amr"] == ["pwd", "otp"]

    # A later login offers the app first; the code that ended the last one is refused. (The
    # server takes each employee's TOTP steps only forward, three per 30 s at most: every
    # further code of Jan's costs this story up to 30 s of waiting.)
    token = session
    status, answer = await story.login(auth, PRACTICE, "jan", JAN_PASSWORD)
    assert status == 200 and answer["next"] == "second_factor", answer
    assert answer["factors"][0] == "totp" and answer["factors"][-1] == "recovery"
    status, refused = await story.verify(answer["login_id"], "totp", phone.code(max(phone.used)))
    assert status == 401 and refused["type"].endswith("/code-already-used"), refused

    # Phone lost: the recovery code logs in and a new one is shown at once.
    status, rescued = await story.log_in("jan", JAN_PASSWORD, "recovery", recovery)
    assert status == 200, rescued
    assert rescued["recovery_code"] and rescued["recovery_code"] != recovery
    assert claims_of(rescued["token"])["amr"] == ["pwd", "rec"]
    status, refused = await story.log_in("jan", JAN_PASSWORD, "recovery", recovery)
    assert status == 401, refused

    # The administrator deactivates Jan's factors: his token no longer renews …
    status, _ = await story.call(
        enrolment, "DELETE", f"/v1/practices/{PRACTICE}/employees/jan01/factors", admin_token
    )
    assert status == 204

    async def renewal_refused() -> bool:
        status, _ = await story.call(auth, "POST", "/v1/tokens/renew", rescued["token"])
        return status == 401

    await wait_for(renewal_refused)
    status, _ = await story.call(auth, "POST", "/v1/tokens/renew", token["token"])
    assert status == 401

    async def told() -> list[EmailMessage]:
        return [m for m in smtp_sink.inbox.to(JAN["email"]) if "Wijziging" in str(m["Subject"])]

    # Enrolled, recovery code used, deactivated: each factor change is e-mailed to Jan.
    assert len(await wait_for(told)) >= 1

    # … and he enrols again, with a new authenticator.
    async def enrol_next() -> dict[str, Any]:
        status, answer = await story.login(auth, PRACTICE, "jan", JAN_PASSWORD)
        assert status == 200, answer
        return answer if answer["next"] == "enrol" else {}

    answer = await wait_for(enrol_next)
    new_phone, _, again = await story.enrol(answer, JAN, previous=phone)
    assert new_phone.secret != phone.secret
    assert claims_of(again["token"])["aal"] == "aal2"
    return witness
