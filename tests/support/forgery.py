"""What a producer on the broker can forge, for tests that it gets nowhere: signing keys and
their announcements, a host system's employee, and the calls that must refuse a forged token."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from shared.events import Envelope, utcnow
from shared.trust import TrustSigner
from tests.support.cluster import ADMIN_PASSWORD
from tests.support.services import P, Rig


def forged_key(kid: str) -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    private = Ed25519PrivateKey.generate()
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**jwk, "kid": kid, "use": "sig", "alg": "EdDSA"}


def key_event(kid: str, jwk: dict[str, Any], signer: TrustSigner | None) -> Envelope:
    data: dict[str, Any] = {
        "kid": kid,
        "zone": "a",
        "jwk": jwk,
        "created_at": utcnow().isoformat(),
        "retire_at": None,
    }
    if signer is not None:
        data = signer.sign(data)
    return Envelope(type="sts.key.published", source="auth@a", practice="*", subject=kid, data=data)


async def key_settled(rig: Rig, kid: str) -> bool:
    """Every service has either kept the key or dead-lettered its announcement."""
    for service in rig.zones:
        done = await rig.pool(service).fetchval(
            """SELECT EXISTS (SELECT 1 FROM public_keys WHERE kid = $1)
                  OR EXISTS (SELECT 1 FROM dead_letters
                             WHERE position(convert_to($1, 'UTF8') IN raw) > 0)""",
            kid,
        )
        if not done:
            return False
    return True


def token_refused(status: int, body: Any) -> bool:
    """The answer to a bad bearer token (any other answer means the token got through)."""
    return status == 401 and str(body.get("type", "")).endswith("/unauthorized")


async def forged_calls(rig: Rig, token: str) -> dict[str, bool]:
    """Each endpoint that takes a token: did it let the forged one through?"""
    admin_path = f"/v1/practices/{P}"
    calls: list[tuple[str, str, str, str, Any]] = [
        ("auth renew", "auth", "POST", "/v1/tokens/renew", None),
        (
            "auth own password",
            "auth",
            "POST",
            "/v1/password",
            {"current_password": ADMIN_PASSWORD, "new_password": "Nog-Sterker-Wachtwoord-2027!"},
        ),
        (
            "auth admin password",
            "auth",
            "PUT",
            f"{admin_path}/employees/{rig.admin}/password",
            {"password": "Ander-Sterk-Wachtwoord-2028!", "temporary": False},
        ),
        ("enrolment employees", "enrolment", "GET", f"{admin_path}/employees", None),
        ("certs certificates", "certs", "GET", f"{admin_path}/certificates", None),
    ]
    through = {}
    for name, service, method, path, body in calls:
        through[name] = not token_refused(*await rig.call(service, method, path, token, body))
    response = await rig.auth.client.post("/v1/tokens/introspect", json={"token": token})
    introspected = await response.json(content_type=None)
    through["auth introspect"] = response.status == 200 and introspected.get("active") is True
    return through


def host_employee(employee: str, version: int, rights_group: int) -> Envelope:
    body = {
        "employee": employee,
        "username": employee,
        "name": "Host Employee",
        "rights_group": rights_group,
        "version": version,
        "updated_at": utcnow().isoformat(),
        "zone": "a",
    }
    return Envelope(
        type="employee.upserted", source="his@a", practice=P, subject=employee, data=body
    )
