"""The care identifiers Dezi and UZI-pas logins are linked by (docs/adr/0014): a practice's URA
and an employee's Dezi/UZI number, set by the administrator at enrolment, published on the
directory topics and kept by auth (where :mod:`services.auth.adapters.dezi_links` reads them).
Real PostgreSQL and broker (the enrolment rig: auth and enrolment of zone a)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.auth.adapters import dezi_links
from services.auth.domain.dezi import Linked
from shared.events import Envelope, utcnow
from tests.support import enrolment
from tests.support.bus import produce
from tests.support.cluster import slug, wait_for
from tests.support.enrolment import PIET, PIET_DATA, P, Rig, in_auth

rig = enrolment.rig

URA = "87654321"
NUMBER = "900000009"


async def test_the_ura_and_dezi_numbers_reach_auth_and_a_number_is_one_employees(
    rig: Rig,
) -> None:
    admin, practice = rig.admin_token, f"/v1/practices/{P}"
    employees = f"{practice}/employees"
    status, body = await rig.call("PUT", practice, admin, {"ura": "1234"})
    assert status == 422 and slug(body) == "invalid-request", body
    status, body = await rig.call("PUT", practice, admin, {"ura": URA})
    assert status == 200 and body["ura"] == URA, body
    status, again = await rig.call("PUT", practice, admin, {"ura": URA})
    assert status == 200 and again["version"] == body["version"], "the same URA writes nothing"

    status, body = await rig.call(
        "PUT", f"{employees}/{PIET}", admin, {**PIET_DATA, "dezi_number": "90000000x"}
    )
    assert status == 422 and [e["field"] for e in body["errors"]] == ["dezi_number"], body
    status, piet = await rig.call(
        "PUT", f"{employees}/{PIET}", admin, {**PIET_DATA, "dezi_number": NUMBER}
    )
    assert status == 200 and piet["dezi_number"] == NUMBER, piet
    # Another employee of the practice cannot have the number (nothing is written).
    status, body = await rig.call(
        "PUT",
        f"{employees}/jan01",
        admin,
        {"username": "jan", "name": "Jan", "dezi_number": NUMBER},
    )
    assert status == 409 and slug(body) == "dezi-number-taken", body
    assert await rig.pool.fetchval("SELECT count(*) FROM employees WHERE id = 'jan01'") == 0

    await wait_for(lambda: in_auth(rig, "SELECT ura = $1 FROM practices WHERE id = $2", URA, P))
    await wait_for(
        lambda: in_auth(rig, "SELECT dezi_number = $1 FROM employees WHERE id = $2", NUMBER, PIET)
    )
    async with rig.auth.auth.pool.acquire() as conn:
        assert await dezi_links.linked(conn, NUMBER) == [Linked(P, PIET, URA)]
        assert await dezi_links.practice_ura(conn, P) == URA

    events = await rig.events("directory.employees", lambda es: any(_numbered(es)))
    assert _numbered(events)[-1]["data"]["dezi_number"] == NUMBER

    # A host system's upsert that does not know the number keeps it, in enrolment and auth.
    host = Envelope(
        type="employee.upserted",
        source="his@a",
        practice=P,
        subject=PIET,
        data={
            "employee": PIET,
            "username": "piet",
            "name": "Piet Host",
            "rights_group": 2,
            "version": piet["version"] + 1,
            "updated_at": utcnow().isoformat(),
            "zone": "a",
        },
    )
    await produce(rig.cluster.broker.bootstrap, rig.topic("directory.employees"), host)
    await wait_for(
        lambda: in_auth(rig, "SELECT name = 'Piet Host' FROM employees WHERE id = $1", PIET)
    )
    status, piet = await rig.call("GET", f"{employees}", admin)
    assert next(e for e in piet if e["employee"] == PIET)["dezi_number"] == NUMBER

    # null removes it: the login finds nobody.
    status, piet = await rig.call("PUT", f"{employees}/{PIET}", admin, {"dezi_number": None})
    assert status == 200 and piet["dezi_number"] is None, piet
    await wait_for(
        lambda: in_auth(rig, "SELECT dezi_number = '' FROM employees WHERE id = $1", PIET)
    )
    async with rig.auth.auth.pool.acquire() as conn:
        assert await dezi_links.linked(conn, NUMBER) == []
    # Now another employee may have it.
    status, jan = await rig.call(
        "PUT",
        f"{employees}/jan01",
        admin,
        {"username": "jan", "name": "Jan", "dezi_number": NUMBER},
    )
    assert status == 200 and jan["dezi_number"] == NUMBER, jan
    status, body = await rig.call("PUT", practice, admin, {"ura": None})
    assert status == 200 and body["ura"] is None


async def test_two_administrators_giving_one_number_at_once_one_gets_it(rig: Rig) -> None:
    employees = f"/v1/practices/{P}/employees"
    for employee in ("e1", "e2"):
        status, _ = await rig.call(
            "PUT", f"{employees}/{employee}", rig.admin_token, {"username": employee, "name": "X"}
        )
        assert status == 200

    async def give(employee: str) -> tuple[int, Any]:
        return await rig.call(
            "PUT", f"{employees}/{employee}", rig.admin_token, {"dezi_number": NUMBER}
        )

    answers = await asyncio.gather(give("e1"), give("e2"))
    assert sorted(status for status, _ in answers) == [200, 409], answers
    count = await rig.pool.fetchval(
        "SELECT count(*) FROM employees WHERE practice = $1 AND dezi_number = $2", P, NUMBER
    )
    assert count == 1


def _numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["data"].get("dezi_number")]
