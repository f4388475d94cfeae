"""Issue 10, introspection (RFC 7662 §2.1): only registered relying services may introspect,
with HTTP Basic; clients are registered by ``tweestap client`` (the real command, in a
subprocess), kept only as a hash, replicated sealed to the other zone; introspection reports
the employee's rights group now, not the token's."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from typing import Any

from services.auth.adapters.clients import ClientPublished
from services.auth.domain.clients import CLIENT_EVENT, DEPLOYMENT, ClientState
from shared.events import utcnow
from shared.sealing import Keyring, generate_key
from shared.topics import AUTH_CREDENTIALS
from tests.support.bus import read_events
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.enrolment import PIET, PIET_PASSWORD, P, put_piet, set_password, start

PROBLEM = "application/problem+json"


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def introspect(
    zone: Zone, token: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = await zone.client.post(
        "/v1/tokens/introspect", json={"token": token}, headers=headers or {}
    )
    return response.status, await response.json(content_type=None), dict(response.headers)


async def tweestap_client(zone: Zone, *args: str) -> str:
    """``tweestap client ...`` against ``zone``'s database, as an operator runs it."""
    settings = zone.settings
    env = {
        **os.environ,
        "TWEESTAP_ZONE": settings.zone,
        "TWEESTAP_DATABASE_URL": settings.database_url,
        "TWEESTAP_SEALING_KEYS": settings.sealing_keys.get_secret_value(),
        "TWEESTAP_TOPIC_PREFIX": settings.topic_prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "client",
        *args,
        "--zone",
        settings.zone,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def register(zone: Zone, client_id: str) -> str:
    """Register a relying service; the secret the command prints, once."""
    out = await tweestap_client(zone, "add", client_id, "--name", "Praktijksoftware")
    return out.rsplit(":", 1)[1].strip()


async def test_introspection_needs_a_registered_client_known_in_both_zones(
    cluster: Cluster,
) -> None:
    zone_a = await cluster.start("a")
    zone_b = await cluster.start("b")
    await cluster.bootstrap(zone_a)
    status, body = await login(zone_a, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200, body
    token = body["token"]["token"]

    status, answer, headers = await introspect(zone_a, token)
    assert status == 401, ("anyone may introspect", answer)
    assert headers["Content-Type"].startswith(PROBLEM)
    assert headers["WWW-Authenticate"].startswith("Basic")

    secret = await register(zone_a, "praktijk-software")
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32, "256 random bits"
    assert "praktijk-software" in await tweestap_client(zone_a, "list")
    wrong = [
        basic("praktijk-software", secret[:-1] + ("A" if secret[-1] != "A" else "B")),
        basic("onbekend", secret),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": f"Bearer {token}"},
    ]
    for header in wrong:
        status, answer, headers = await introspect(zone_a, token, header)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic"), header
        assert "username" not in answer
    status, answer, _ = await introspect(zone_a, token, basic("praktijk-software", secret))
    assert status == 200 and answer["active"] is True and answer["username"] == "admin"
    # RFC 7662 §2.1's form, as relying-party libraries send it, works as well.
    as_form = await zone_a.client.post(
        "/v1/tokens/introspect", data={"token": token}, headers=basic("praktijk-software", secret)
    )
    assert as_form.status == 200 and (await as_form.json())["active"] is True
    doubled = await zone_a.client.post(
        "/v1/tokens/introspect",
        data=[("token", token), ("token", token)],
        headers=basic("praktijk-software", secret),
    )
    assert doubled.status == 400

    # Only the hash is kept, in both zones; the event carries the state sealed.
    stored = await zone_a.auth.pool.fetchval(
        "SELECT secret_hash FROM clients WHERE id = 'praktijk-software'"
    )
    assert stored and secret not in stored

    async def known_in_b() -> bool:
        status, _, _ = await introspect(zone_b, token, basic("praktijk-software", secret))
        return status == 200

    await wait_for(known_in_b)
    topic = zone_a.settings.topic(AUTH_CREDENTIALS.name)
    events = await read_events(
        cluster.broker, topic, lambda es: any(e["type"] == CLIENT_EVENT for e in es)
    )
    client_events = [e for e in events if e["type"] == CLIENT_EVENT]
    assert client_events and secret not in json.dumps(client_events)
    assert "secret_hash" not in json.dumps(client_events), "sealed, not in clear"

    # A client.upserted not sealed with the deployment's keyring registers nothing.
    forged = ClientState(
        client_id="indringer",
        name="Indringer",
        secret_hash="0" * 64,
        version=1,
        updated_at=utcnow(),
        zone="a",
    )
    foreign = Keyring.parse(f"x1:{generate_key()}")
    body_ = ClientPublished(
        client_id="indringer",
        sealed=foreign.seal(forged.model_dump_json().encode(), "client:indringer"),
    )
    async with zone_a.auth.pool.acquire() as conn:
        await zone_a.auth.events.emit(
            conn,
            AUTH_CREDENTIALS,
            CLIENT_EVENT,
            DEPLOYMENT,
            "client:indringer",
            body_.model_dump(mode="json"),
            utcnow(),
        )
    await tweestap_client(zone_a, "remove", "praktijk-software")

    async def removed_in_b() -> bool:
        status, _, _ = await introspect(zone_b, token, basic("praktijk-software", secret))
        return status == 401

    await wait_for(removed_in_b)

    async def removed_in_a() -> bool:
        # The command removed it in zone a's database; the server believes an active client
        # for at most client_cache_seconds.
        status, _, _ = await introspect(zone_a, token, basic("praktijk-software", secret))
        return status == 401

    await wait_for(removed_in_a, timeout=zone_a.auth.settings.client_cache_seconds + 5)
    for zone in (zone_a, zone_b):

        async def dead_lettered(zone: Zone = zone) -> bool:
            return bool(
                await zone.auth.pool.fetchval(
                    "SELECT 1 FROM dead_letters WHERE reason LIKE '%not sealed by this deployment%'"
                )
            )

        await wait_for(dead_lettered)
        assert not await zone.auth.pool.fetchval("SELECT 1 FROM clients WHERE id = 'indringer'")


async def test_introspection_reports_the_current_rights_group(cluster: Cluster) -> None:
    async for rig in start(cluster):
        auth = rig.auth
        secret = await register(auth, "praktijk-software")
        credentials = basic("praktijk-software", secret)
        await put_piet(rig, rights_group=1)
        response = await set_password(auth, rig.admin_token, PIET, PIET_PASSWORD)
        assert response.status == 200
        status, body = await login(auth, P, "piet", PIET_PASSWORD)
        assert status == 200, body
        token = body["token"]["token"]
        status, answer, _ = await introspect(auth, token, credentials)
        assert status == 200 and answer["rg"] == 1
        await put_piet(rig, rights_group=2)
        status, answer, _ = await introspect(auth, token, credentials)
        assert status == 200 and answer["active"] is True
        assert answer["rg"] == 2, "the directory's rights group now, not the token's"
        await put_piet(rig, rights_group=2, in_service=False)
        status, answer, _ = await introspect(auth, token, credentials)
        assert status == 200 and answer == {"active": False}
