"""The administrator and one employee's sign-in methods (issue 25), on real PostgreSQL, the
broker and SMTP: listed; one removed while the others stay (replicated as an inactive
credential, audited as ``factor.removed`` with who did it, the employee told by e-mail); and
the refusals (rights group 2, another employee's factor, an unknown one), which change
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.cluster import Cluster, slug
from tests.support.enrolment import (
    PIET,
    PIET_BIRTH,
    PIET_BSN,
    PIET_EMAIL,
    P,
    Rig,
    enrol_login,
    enrol_totp,
    start,
    two_factor_practice,
)
from tests.support.mail import SmtpSink


@pytest.fixture
async def rig(cluster: Cluster, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    """Enrolment and auth, with mail to a real SMTP server."""
    async for started in start(cluster, smtp_sink):
        yield started


async def test_the_administrator_removes_one_sign_in_method(rig: Rig) -> None:
    await two_factor_practice(rig)
    await enrol_totp(rig, (await enrol_login(rig))[1])
    admin = rig.admin2()
    path = f"/v1/practices/{P}/employees/{PIET}/factors"
    status, listed = await rig.call("GET", path, admin)
    assert status == 200 and [f["kind"] for f in listed] == ["totp", "recovery"], listed
    totp_id, recovery_id = (f["factor_id"] for f in listed)
    status, employees = await rig.call("GET", f"/v1/practices/{P}/employees", admin)
    piet = next(e for e in employees if e["employee"] == PIET)
    assert piet["factor_kinds"] == ["totp", "recovery"], piet
    assert piet["activation_valid_until"] is None, "the code was used"

    # Piet himself (rights group 2) may not; nor may anyone remove what is not there.
    status, body = await rig.call("DELETE", f"{path}/{recovery_id}", rig.token(PIET))
    assert status == 403, body
    for wrong in (f"/v1/practices/{P}/employees/nobody/factors/{recovery_id}", f"{path}/nope"):
        status, body = await rig.call("DELETE", wrong, admin)
        assert status == 404 and slug(body) == "not-found", (wrong, body)
    assert (await rig.call("GET", path, admin))[1] == listed, "nothing changed"

    status, _ = await rig.call("DELETE", f"{path}/{recovery_id}", admin)
    assert status == 204
    status, left = await rig.call("GET", path, admin)
    assert [f["factor_id"] for f in left] == [totp_id], "the app stays"
    status, body = await rig.call("DELETE", f"{path}/{recovery_id}", admin)
    assert status == 404, "removed once"

    factors = await rig.events(
        "factors",
        lambda es: any(e["data"]["factor"] == recovery_id and not e["data"]["active"] for e in es),
    )
    removed = [e for e in factors if e["data"]["factor"] == recovery_id][-1]
    assert removed["data"]["active"] is False
    events = await rig.events(
        "enrolment.events", lambda es: any(e["type"] == "factor.removed" for e in es)
    )
    [event] = [e for e in events if e["type"] == "factor.removed"]
    assert event["data"]["factors"] == [recovery_id] and event["data"]["kind"] == "recovery"
    assert event["data"]["actor"]["rights_group"] == 1
    assert not any(e["type"] == "factor.deactivated" for e in events)
    await rig.mails(PIET_EMAIL, "Wijziging", 2)  # the app set up, then this


async def test_the_administrator_resends_a_waiting_activation_code(rig: Rig) -> None:
    await two_factor_practice(rig)
    admin = rig.admin2()
    path = f"/v1/practices/{P}/employees/{PIET}/activation"
    status, body = await rig.call("POST", path, admin)
    assert status == 409 and slug(body) == "no-activation-waiting", "nothing started yet"

    _, token = await enrol_login(rig)
    status, started = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200, started
    first = await rig.code(PIET_EMAIL, "activatiecode", 1)
    status, body = await rig.call("POST", path, rig.token(PIET))
    assert status == 403, "Piet himself may not"
    status, resent = await rig.call("POST", path, admin)
    assert status == 200 and resent["enrolment_id"] == started["enrolment_id"], resent
    assert resent["sent_to"] == started["sent_to"] and "code" not in resent
    second = await rig.code(PIET_EMAIL, "activatiecode", 2)
    assert second != first

    identity = f"/v1/enrolment/{started['enrolment_id']}/identity"
    person = {"birth_date": PIET_BIRTH, "bsn": PIET_BSN}
    status, body = await rig.call("POST", identity, token, {"activation_code": first, **person})
    assert status in (400, 401, 422) and "secret" not in body, "the old code no longer works"
    status, shown = await rig.call("POST", identity, token, {"activation_code": second, **person})
    assert status == 200 and shown["secret"], shown
    events = await rig.events(
        "enrolment.events", lambda es: any(e["type"] == "enrolment.code_resent" for e in es)
    )
    [event] = [e for e in events if e["type"] == "enrolment.code_resent"]
    assert event["data"]["actor"]["rights_group"] == 1 and second not in str(event)
    status, body = await rig.call("POST", path, admin)
    assert status == 409, "the code was used: nothing waits"
