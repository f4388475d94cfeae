"""Schemathesis against the running services: every operation of each service's
``/openapi.json`` is called with generated valid input, as an administrator and as an employee,
and every answer must be no 5xx and conform to the document (status, content type, schema).

Bounded for the suite: a few examples per operation, derandomized (a fixed seed), no shrinking
of failures (they are collected and reported together)."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.auth.http import CLIENTS
from shared.events import utcnow
from shared.http import RUNTIME
from shared.tokens import TWO_FACTOR_AAL
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.tokens import knows_tokens_of

#: Schemathesis' own strategies use ``random`` (its concern, not this test's).
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
P = "fysio"
EMPLOYEE = "piet01"
EMPLOYEE_PASSWORD = "Kruisbes-Vlinder-Aardbei-42!"
SERVICES = ("auth", "enrolment", "certs", "notifier")
#: Examples per operation and caller, small enough that the module stays well under a minute:
#: valid input (every answer must conform), then input the document rules out (every answer
#: must be a documented 4xx, never a 5xx).
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
#: Operations that end the callers' sessions (or may: two factors switched on): run last,
#: in this order.
ENDS_SESSIONS = (
    "POST /v1/password",
    "PUT /v1/practices/{p}/employees/{e}/password",
    "DELETE /v1/practices/{p}/employees/{e}/factors",
    "PUT /v1/practices/{p}",
    "POST /v1/tokens/revoke",
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Findings:
    """Failed checks, one line per (operation, caller, check message)."""

    lines: set[str] = field(default_factory=set)
    #: Status codes answered, per operation (to see the run reached more than refusals).
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))


def brief(failure: Failure) -> str:
    """A failure on one line: its title and the first lines of its message."""
    lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
    return " | ".join(lines[:4])


@dataclass(frozen=True)
class Target:
    """One operation of one running service, and who calls it (name → Authorization)."""

    operation: Any
    base_url: str
    zone: str
    callers: dict[str, str]

    @property
    def order(self) -> int:
        """0 for most; the operations that end sessions in ``ENDS_SESSIONS``' order."""
        label = self.operation.label
        return ENDS_SESSIONS.index(label) + 1 if label in ENDS_SESSIONS else 0


def targets(
    spec: dict[str, Any], base_url: str, zone: str, callers: dict[str, dict[str, str]]
) -> list[Target]:
    """Every operation of ``spec``; one with HTTP Basic security is called by the relying
    service, the others by the administrator and the employee."""
    schema = schemathesis.openapi.from_dict(spec)
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document is not valid: {result.err()}"
        operation = result.ok()
        security = spec["paths"][operation.path][operation.method.lower()].get("security", [])
        kind = "client" if {"client": []} in security else "people"
        found.append(Target(operation, base_url, zone, callers[kind]))
    return found


def fuzz(target: Target, mode: GenerationMode, found: Findings) -> None:
    """A few generated valid requests to the target's operation, each sent as every caller;
    the practice in the path is the bootstrapped one (else nearly every answer is a 403)."""
    operation = target.operation
    fixed = {"p": P} if "{p}" in operation.path else None

    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode, path_parameters=fixed))
    def run(case: Any) -> None:
        for caller, authorization in target.callers.items():
            headers = {"Authorization": authorization}
            response = case.call(base_url=target.base_url, headers=headers)
            found.statuses[operation.label][response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    found.lines.add(
                        f"{operation.label} as {caller} in {target.zone}: {brief(failure)}"
                    )
            except Failure as failure:
                found.lines.add(f"{operation.label} as {caller} in {target.zone}: {brief(failure)}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it to make invalid


def fuzz_all(every: list[Target], found: Findings) -> None:
    """Operations that end the callers' sessions go last, so the others see live tokens."""
    for target in sorted(every, key=lambda t: t.order):
        for mode in EXAMPLES:
            fuzz(target, mode, found)


async def employee_token(cluster: Cluster, auth: Zone, enrolment: Zone, admin: str) -> str:
    """Piet, an employee (rights group 2) with a password, logged in with two factors."""
    headers = {"Authorization": f"Bearer {admin}"}
    response = await enrolment.client.put(
        f"/v1/practices/{P}/employees/{EMPLOYEE}",
        json={"username": "piet", "name": "Piet de Vries", "rights_group": 2},
        headers=headers,
    )
    assert response.status == 200, await response.text()

    async def known() -> bool:
        sql = "SELECT EXISTS (SELECT 1 FROM employees WHERE practice = $1 AND id = $2)"
        return bool(await auth.auth.pool.fetchval(sql, P, EMPLOYEE))

    await wait_for(known)
    response = await auth.client.put(
        f"/v1/practices/{P}/employees/{EMPLOYEE}/password",
        json={"password": EMPLOYEE_PASSWORD, "temporary": False},
        headers=headers,
    )
    assert response.status == 200, await response.text()
    await cluster.wait_employee(auth, P, EMPLOYEE)
    status, body = await login(auth, P, "piet", EMPLOYEE_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    return two_factor(auth, body["token"]["token"])


def two_factor(auth: Zone, token: str) -> str:
    """``token``'s session as if its second step had been done (``aal2``), signed by auth, as
    the enrolment tests do: the factor and recovery-code routes need it."""
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(acr=TWO_FACTOR_AAL, amr=["pwd", "otp"])
    signed: str = auth.auth.signer.sign(claims, utcnow())
    return signed


async def test_every_operation_answers_as_its_openapi_document_says(cluster: Cluster) -> None:
    """Both zones of every service; the practice, its people and the relying service are
    created in zone a and used in both."""
    zones = {(z, service): await cluster.start(z, service) for z in "ab" for service in SERVICES}
    auth, auth_b = zones["a", "auth"], zones["b", "auth"]
    await cluster.bootstrap(auth)
    for z in "ab":
        for service in ("enrolment", "certs"):
            pool = zones[z, service].app[RUNTIME].pool
            await wait_for(functools.partial(knows_tokens_of, pool, auth, P))
    status, body = await login(auth, P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    admin = body["token"]["token"]
    bearers = {
        "admin": admin,
        "employee": await employee_token(cluster, auth, zones["a", "enrolment"], admin),
    }
    await cluster.wait_employee(auth_b, P, EMPLOYEE)
    secret = await auth.app[CLIENTS].add("praktijk-software", "Praktijksoftware")
    await wait_for(auth_b.app[CLIENTS].active)
    basic = base64.b64encode(f"praktijk-software:{secret}".encode()).decode()
    callers = {
        "people": {k: f"Bearer {v}" for k, v in bearers.items()},
        "client": {"client": f"Basic {basic}"},
    }
    every: list[Target] = []
    for (z, _), zone in zones.items():
        spec = await (await zone.client.get("/openapi.json")).json()
        base_url = str(zone.client.make_url("")).rstrip("/")
        every += targets(spec, base_url, z, callers)
    found = Findings()
    await asyncio.to_thread(fuzz_all, every, found)
    operations = len(every)
    assert operations >= 30, operations
    calls = sum(sum(c.values()) for c in found.statuses.values())
    succeeded = {op for op, c in found.statuses.items() if any(200 <= s < 300 for s in c)}
    print(json.dumps({"operations": operations, "calls": calls, "succeeded": len(succeeded)}))
    assert calls >= operations * 2
    assert not found.lines, "\n".join(sorted(found.lines))
