"""The administrator's account tasks at auth (issue 25), in two zones on real PostgreSQL and the
real broker: every employee's account state, unlocking a locked account (in both zones: the
other zone's failures no longer count either), ending every session of an employee; and the
refusals (rights group 2, another practice, an unknown employee), which change nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.events import EmployeeUpserted, utcnow
from shared.topics import DIRECTORY_EMPLOYEES
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.factors import PRACTICE, emit, until_in
from tests.support.practices import set_policy
from tests.support.site import Sites, log_in, post
from tests.support.story import JAN, JAN_PASSWORD
from tests.support.tokens import renew, session_token

PIET = "piet01"


async def call(zone: Zone, method: str, path: str, token: str) -> tuple[int, Any]:
    response = await zone.client.request(method, path, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json(content_type=None)


async def accounts(zone: Zone, token: str) -> dict[str, dict[str, Any]]:
    status, body = await call(zone, "GET", f"/v1/practices/{PRACTICE}/accounts", token)
    assert status == 200, body
    return {account["employee"]: account for account in body["accounts"]}


@pytest.fixture
async def zones(cluster: Cluster) -> tuple[Zone, Zone]:
    """Two zones; the practice locks after three failures for ten minutes; Piet (rights group
    2) besides the administrator."""
    a, b = await cluster.start("a"), await cluster.start("b")
    await cluster.bootstrap(a)
    await set_policy(a, PRACTICE, 2, max_attempts=3, lockout_seconds=600)
    piet = EmployeeUpserted(
        employee=PIET,
        username="Piet",
        name="Piet de Boer",
        rights_group=2,
        in_service=True,
        version=1,
        updated_at=utcnow(),
        zone="a",
    )
    await emit(a, DIRECTORY_EMPLOYEES, "employee.upserted", PIET, piet.model_dump(mode="json"))
    await until_in(
        [a, b], "SELECT 1 FROM employees WHERE practice = $1 AND id = $2", PRACTICE, PIET
    )
    await until_in(
        [b], "SELECT (policy->>'max_attempts')::int = 3 FROM practices WHERE id = $1", PRACTICE
    )
    return a, b


async def admin_token(zone: Zone) -> str:
    status, body = await login(zone, PRACTICE, "admin", ADMIN_PASSWORD)
    assert status == 200, body
    return str(body["token"]["token"])


async def test_a_locked_account_is_shown_and_unlocked_in_both_zones(
    zones: tuple[Zone, Zone],
) -> None:
    a, b = zones
    admin = await admin_token(a)
    for _ in range(3):
        status, _ = await login(a, PRACTICE, "piet", "wrong")
        assert status == 401

    async def locked_in_b() -> bool:
        return bool((await accounts(b, admin))[PIET]["status"] == "locked")

    await wait_for(locked_in_b, what="zone a's failures in zone b")
    status, body = await login(b, PRACTICE, "PIET", "wrong")
    assert status == 429 and body["type"].endswith("/account-locked"), body

    shown = (await accounts(a, admin))[PIET]
    assert shown["status"] == "locked" and shown["failures"] == 3, shown
    assert shown["username"] == "Piet" and shown["locked_until"] is not None
    assert (await accounts(a, admin))[await admin_id(a)]["status"] == "active"

    # Unlocked in zone b; zone a, where the failures were made, lets Piet try again too.
    status, unlocked = await call(
        b, "POST", f"/v1/practices/{PRACTICE}/employees/{PIET}/unlock", admin
    )
    assert status == 200 and unlocked["status"] == "active", unlocked
    assert unlocked["failures"] == 0 and unlocked["locked_until"] is None

    async def open_in_a() -> bool:
        return bool((await accounts(a, admin))[PIET]["status"] == "active")

    await wait_for(open_in_a, what="the unlock in zone a")
    status, body = await login(a, PRACTICE, "piet", "wrong")
    assert status == 401, body  # a wrong password again, not a locked account
    # Unlocking again changes nothing (a reset only moves forward).
    status, again = await call(
        a, "POST", f"/v1/practices/{PRACTICE}/employees/{PIET}/unlock", admin
    )
    assert status == 200 and again["status"] == "active", again


async def admin_id(zone: Zone) -> str:
    found: str = await zone.auth.pool.fetchval(
        "SELECT id FROM employees WHERE practice = $1 AND rights_group = 1", PRACTICE
    )
    return found


async def test_ending_an_employees_sessions_ends_them_in_both_zones(
    zones: tuple[Zone, Zone],
) -> None:
    a, b = zones
    admin = await admin_token(a)
    other = await admin_token(b)  # the administrator's session at another workstation
    status, ended = await call(
        a, "POST", f"/v1/practices/{PRACTICE}/employees/{await admin_id(a)}/sessions/end", admin
    )
    assert status == 200 and ended["employee"] == await admin_id(a), ended

    async def ended_in_b() -> bool:
        status, _ = await renew(b, other)
        return status == 401

    await wait_for(ended_in_b, what="the sessions' end in zone b")
    status, body = await renew(a, admin)
    assert status == 401 and body["type"].endswith("/session-revoked"), body
    assert (await login(a, PRACTICE, "admin", ADMIN_PASSWORD))[0] == 200, "a new login works"


async def test_only_the_practices_administrator_does_account_tasks(
    zones: tuple[Zone, Zone],
) -> None:
    a, _ = zones
    for _ in range(3):
        await login(a, PRACTICE, "piet", "wrong")
    piet = session_token(a, PIET, practice=PRACTICE, rights_group=2)
    elsewhere = session_token(a, await admin_id(a), practice="elders", rights_group=1)
    admin = await admin_token(a)
    paths = (
        ("GET", f"/v1/practices/{PRACTICE}/accounts"),
        ("POST", f"/v1/practices/{PRACTICE}/employees/{PIET}/unlock"),
        ("POST", f"/v1/practices/{PRACTICE}/employees/{PIET}/sessions/end"),
    )
    for method, path in paths:
        for token in (piet, elsewhere):
            status, problem = await call(a, method, path, token)
            assert status in (401, 403), (path, problem)
            assert problem["status"] == status and "type" in problem
    for method, path in (
        ("POST", f"/v1/practices/{PRACTICE}/employees/nobody/unlock"),
        ("POST", f"/v1/practices/{PRACTICE}/employees/nobody/sessions/end"),
    ):
        status, problem = await call(a, method, path, admin)
        assert status == 404 and problem["type"].endswith("/not-found"), problem
    assert (await accounts(a, admin))[PIET]["status"] == "locked", "nothing changed"
    assert await a.auth.pool.fetchval("SELECT count(*) FROM session_cutoffs") == 0


# -- the console (the web front end in front of auth, enrolment and the notifier) --------------


async def test_the_console_unlocks_resets_and_ends_sessions(sites: Sites) -> None:
    site = await sites(two_factors=False)
    story = site.story
    status, body = await story.call(
        story.enrolment,
        "PUT",
        f"/v1/practices/{PRACTICE}",
        site.admin_token,
        password_policy={"max_attempts": 3, "lockout_seconds": 600},
    )
    assert status == 200, body

    async def strict_at_auth() -> bool:
        policy = await site.auth.auth.pool.fetchval(
            "SELECT policy->>'max_attempts' FROM practices WHERE id = $1", PRACTICE
        )
        return bool(policy == "3")

    await wait_for(strict_at_auth, what="the policy at auth")
    for _ in range(3):
        assert (await login(site.auth, PRACTICE, "jan", "wrong"))[0] == 401
    web = await site.web()
    assert (await log_in(web, "admin", ADMIN_PASSWORD)).url.path == "/factors"

    listed = await (await web.get("/console/employees?status=locked")).text()
    assert 'id="employee-jan01"' in listed and 'data-status="locked"' in listed, listed
    assert "Geblokkeerd tot " in listed and "Anna Jansen" not in listed, "only the locked"
    assert "<td>2 · medewerker</td>" in listed, "rights groups named"
    page = await (await web.get("/console/employees/jan01")).text()
    assert "1: beheer (systeembeheerder of praktijkhouder)" in page, "what the groups mean"
    assert 'id="account-status">Geblokkeerd tot ' in page and 'id="unlock"' in page, page
    # Jan at his own workstation reads until when, in his practice's time.
    jans = await site.web()
    told = await (await log_in(jans, "jan", JAN_PASSWORD)).text()
    until = re.search(r"Probeer het opnieuw om (\d\d:\d\d) of neem contact op", told)
    assert until, told
    confirm = await web.get("/console/employees/jan01/account/unlock")
    assert confirm.status == 200 and "deblokkeren" in await confirm.text()
    done = await post(web, "/console/employees/jan01/account/unlock")
    assert done.status == 200 and "is gedeblokkeerd" in await done.text()
    status, answer = await login(site.auth, PRACTICE, "jan", JAN_PASSWORD)
    assert status == 200, answer
    jan_token = answer["token"]["token"]

    # A password reset: a temporary password shown once; Jan's sessions end; his next login
    # asks him for a new password.
    done = await post(web, "/console/employees/jan01/account/password")
    text = await done.text()
    match = re.search(r'id="temporary-password"><code>([a-z0-9-]{19})</code>', text)
    assert done.status == 200 and match, text
    status, _ = await renew(site.auth, jan_token)
    assert status == 401, "a reset ends Jan's sessions"
    status, answer = await login(site.auth, PRACTICE, "jan", match.group(1))
    assert status == 200 and answer["next"] == "change_password", answer

    # Every session ended: Jan's new one (after choosing a password) too.
    status, answer = await story.call(
        site.auth,
        "POST",
        f"/v1/login/{answer['login_id']}/password",
        new_password=JAN_PASSWORD + "!",
    )
    assert status == 200 and answer["token"], answer
    jan_token = answer["token"]["token"]
    done = await post(web, "/console/employees/jan01/account/sessions")
    assert done.status == 200 and "zijn beëindigd" in await done.text()
    status, _ = await renew(site.auth, jan_token)
    assert status == 401

    # No activation code waits for Jan: resending one is refused, in Dutch, nothing sent.
    refused = await post(web, "/console/employees/jan01/account/activation")
    assert refused.status == 400 and "Er wacht geen activeringscode" in await refused.text()

    # Jan sets up the app (a login asking for a second factor enrols one), and the
    # administrator removes his recovery code, not the app.
    status, answer = await story.call(
        site.auth,
        "POST",
        "/v1/login",
        practice=PRACTICE,
        username="jan",
        password=JAN_PASSWORD + "!",
        second_factor=True,
    )
    assert status == 200 and answer["next"] == "enrol", answer
    await story.enrol(answer, JAN)
    listed = await (await web.get("/console/employees")).text()
    jan_row = listed[listed.index('id="employee-jan01"') :].split("</tr>")[0]
    assert "authenticator-app, Herstelcode" in jan_row, jan_row
    page = await (await web.get("/console/employees/jan01")).text()
    removals = re.findall(r'href="/console/employees/jan01/factors/([^/"]+)/remove"', page)
    assert len(removals) == 2 and "Herstelcode" in page, page
    recovery = removals[1]  # strongest first: the app, then the recovery code
    confirm = await web.get(f"/console/employees/jan01/factors/{recovery}/remove")
    assert (
        confirm.status == 200 and "Herstelcode van Jan de Vries verwijderen" in await confirm.text()
    )
    done = await post(web, f"/console/employees/jan01/factors/{recovery}/remove")
    assert done.status == 200 and "is verwijderd" in await done.text()
    page = await (await web.get("/console/employees/jan01")).text()
    assert f"/factors/{recovery}/remove" not in page and f"/factors/{removals[0]}/remove" in page
    assert (await web.get(f"/console/employees/jan01/factors/{recovery}/remove")).status == 404

    # An unknown task or employee is a 404 page; nothing is done.
    assert (await web.get("/console/employees/jan01/account/explode")).status == 404
    assert (await post(web, "/console/employees/nobody/account/unlock")).status == 404
