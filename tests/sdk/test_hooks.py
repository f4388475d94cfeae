"""The SDK's hooks against real zones: a session that reached its cap ends with the hook, and a
zone that comes back is probed back to (on_zone_switched both ways, served by it again).
Revoked: tests/sdk/test_client.py::a_revoked_session_ends_with_the_hook; expired (the token
past exp, not renewed): ::a_failed_renewal_keeps_the_token_until_exp."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tweestap_client import SessionEnded, TweestapClient

from services.registry import SERVICES
from shared.events import utcnow
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for, wait_ready
from tests.support.sdk import url
from tests.support.tokens import forge_session


async def test_a_session_past_its_cap_ends_with_the_hook(cluster: Cluster, tmp_path: Path) -> None:
    a = await cluster.start("a")
    employee = await cluster.bootstrap(a)
    # A session that started a day and a minute ago (the cap is a day), its token still valid
    # for a minute: what a client holds when its last renewal came just before the cap.
    token = forge_session(a, employee, timedelta(days=1, minutes=1))
    now = utcnow()
    path = tmp_path / "token.json"
    path.write_text(
        json.dumps(
            {
                "token": token,
                "expires_at": (now + timedelta(minutes=1)).isoformat(),
                "renew_after": (now + timedelta(seconds=30)).isoformat(),
                "session_expires_at": now.isoformat(),
                "skew": 0.0,
            }
        )
    )
    ended: list[str] = []
    async with TweestapClient([url(a)], token_path=path, on_session_ended=ended.append) as client:
        assert client.token == token
        with pytest.raises(SessionEnded) as end:
            await client.renew()
        assert end.value.reason == "session-expired" and ended == ["session-expired"]
        assert client.token is None and not path.exists()


async def restart(cluster: Cluster, zone: Zone, port: int) -> Zone:
    """The zone's auth again, on the same port and database (a restarted process)."""
    app = SERVICES["auth"].create_app(zone.settings)
    client: TestClient[Any, Any] = TestClient(TestServer(app, port=port))
    await client.start_server()
    again = Zone(zone.settings, client, app)
    cluster.zones.append(again)
    return again


async def test_a_zone_that_comes_back_is_probed_back_to(
    cluster: Cluster, two_zones: tuple[Zone, Zone]
) -> None:
    a, b = two_zones
    switched: list[tuple[int, int]] = []
    async with TweestapClient(
        [url(a), url(b)], probe_interval=0.1, on_zone_switched=lambda *z: switched.append(z)
    ) as client:
        await client.login("fysio", "admin", ADMIN_PASSWORD)
        port = a.client.port
        assert port is not None
        await a.client.close()
        served_by_b = await client.renew()
        assert client.zone == 1 and switched == [(0, 1)]
        assert b.auth.signer.kid_of(served_by_b).startswith("b-")
        assert await client.renew(), "the probe keeps it on b while a is down"
        assert switched == [(0, 1)]

        a = await restart(cluster, a, port)
        await wait_ready(a)  # it has consumed before: it refuses /v1/ until caught up

        async def back_on_a() -> bool:
            return client.zone == 0

        await wait_for(back_on_a)
        assert switched == [(0, 1), (1, 0)]
        assert a.auth.signer.kid_of(await client.renew()).startswith("a-"), "served by a"
