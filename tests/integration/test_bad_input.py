"""Bad input is a 4xx problem+json, never a 500, and changes nothing (issue 10, finding 15).

Every POST/PUT/PATCH endpoint with a body, of auth, enrolment and certs (one zone, real
PostgreSQL and broker), gets deep nesting, NUL, a lone surrogate, over-long strings, invalid
UTF-8, the wrong content type and JSON that is not an object."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse

from tests.support.bodies import bad_bodies
from tests.support.cluster import ADMIN_PASSWORD, login
from tests.support.services import Rig, rig

#: The fixture of tests.support.services (imported so that pytest finds it here).
FIXTURES = (rig,)

P = "fysio"
PROBLEM = "application/problem+json"


def endpoints(rig: Rig) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(service, method, path, a valid-looking body, the string field to spoil)."""
    certificates = f"/v1/practices/{P}/certificates"
    return [
        (
            "auth",
            "POST",
            "/v1/login",
            {"practice": P, "username": "admin", "password": "x"},
            "username",
        ),
        ("auth", "POST", "/v1/login/nope/password", {"new_password": "x"}, "new_password"),
        ("auth", "POST", "/v1/login/nope/verify", {"factor": "totp", "code": "123456"}, "code"),
        (
            "auth",
            "PUT",
            f"/v1/practices/{P}/employees/{rig.admin}/password",
            {"password": "x", "temporary": False},
            "password",
        ),
        (
            "auth",
            "POST",
            "/v1/password",
            {"current_password": ADMIN_PASSWORD, "new_password": "x"},
            "new_password",
        ),
        ("enrolment", "PUT", f"/v1/practices/{P}", {"name": "Fysio"}, "name"),
        (
            "enrolment",
            "PUT",
            f"/v1/practices/{P}/employees/piet",
            {"username": "piet", "name": "Piet", "rights_group": 2},
            "name",
        ),
        (
            "enrolment",
            "POST",
            "/v1/enrolment/nope/identity",
            {"activation_code": "x", "birth_date": "1980-01-01", "bsn": "1"},
            "activation_code",
        ),
        ("enrolment", "POST", "/v1/enrolment/nope/confirm", {"code": "1"}, "code"),
        ("enrolment", "POST", "/v1/factors/nope/confirm", {"code": "1"}, "code"),
        ("certs", "POST", certificates, {"pkcs12": "AAAA", "password": "x"}, "password"),
        ("certs", "PATCH", f"{certificates}/nope", {"agb_code": "12345678"}, "agb_code"),
    ]


async def verdict(response: ClientResponse, field: str, named: bool) -> str | None:
    """What is wrong with the answer to a bad body (None: a proper refusal)."""
    if not 400 <= response.status < 500:
        return f"status {response.status}"
    if response.content_type != PROBLEM:
        return f"content type {response.content_type}"
    problem = await response.json(content_type=None)
    if not str(problem.get("type", "")).startswith("https://tweestap.nl/problems/"):
        return f"no problem type: {problem}"
    fields = [e.get("field", "") for e in problem.get("errors", [])]
    if named and not any(f == field or f.startswith(f"{field}.") for f in fields):
        return f"{response.status} without the field {field!r}: {problem}"
    return None


async def test_bad_bodies_are_4xx_problems_and_change_nothing(rig: Rig) -> None:
    headers = {"Authorization": f"Bearer {rig.admin_token}"}
    wrong: list[str] = []
    for service, method, path, body, field in endpoints(rig):
        for name, (raw, content_type, named) in bad_bodies(body, field).items():
            response = await rig.zones[service].client.request(
                method, path, data=raw, headers={**headers, "Content-Type": content_type}
            )
            problem = await verdict(response, field, named)
            if problem is not None:
                wrong.append(f"{service} {method} {path} {name}: {problem}")
    assert not wrong, f"{len(wrong)} bad answers:\n" + "\n".join(wrong)

    # Nothing changed: the password, the practice, the employees, the certificates.
    status, _ = await login(rig.auth, P, "admin", ADMIN_PASSWORD)
    assert status == 200
    status, practice = await rig.call("enrolment", "GET", f"/v1/practices/{P}", rig.admin_token)
    assert status == 200 and practice["name"] == "Fysio Jansen", practice
    status, employees = await rig.call(
        "enrolment", "GET", f"/v1/practices/{P}/employees", rig.admin_token
    )
    assert status == 200 and [e["employee"] for e in employees] == [rig.admin], employees
    status, certificates = await rig.call(
        "certs", "GET", f"/v1/practices/{P}/certificates", rig.admin_token
    )
    assert status == 200 and certificates["certificates"] == [], certificates
