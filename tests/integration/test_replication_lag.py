"""The replication lag metric (DESIGN §4): an event made in zone a and applied in zone b is
observed in zone b's tweestap_replication_lag_seconds, by topic and origin zone."""

from __future__ import annotations

import re

from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.tokens import bearer, introspect, renew


def lag_counts(metrics: str) -> dict[tuple[str, str, str], float]:
    """``(topic, zone, origin)`` → observations, from a /metrics page."""
    counts: dict[tuple[str, str, str], float] = {}
    for labels, value in re.findall(
        r"^tweestap_replication_lag_seconds_count\{(.*)\} (\S+)$", metrics, re.MULTILINE
    ):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        counts[found["topic"], found["zone"], found["origin"]] = float(value)
    return counts


async def counts_of(zone: Zone) -> dict[tuple[str, str, str], float]:
    response = await zone.ops.get("/metrics")
    assert response.status == 200
    return lag_counts(await response.text())


async def test_a_revocation_in_zone_a_is_refused_by_b_and_its_lag_observed(
    cluster: Cluster,
) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)
    _, body = await login(a, "fysio", "admin", ADMIN_PASSWORD)
    token = body["token"]["token"]
    assert (await introspect(b, token))["active"] is True
    before = (await counts_of(b)).get(("sts.revocations", "b", "a"), 0.0)
    response = await a.client.post("/v1/tokens/revoke", headers=bearer(token))
    assert response.status == 204

    async def inactive_in_b() -> bool:
        return (await introspect(b, token))["active"] is False

    await wait_for(inactive_in_b)
    status, problem = await renew(b, token)
    assert status == 401 and problem["type"].endswith("/session-revoked")

    counts = await counts_of(b)
    assert counts.get(("sts.revocations", "b", "a"), 0.0) >= before + 1, counts
    assert not any(zone == origin for _, zone, origin in counts), (
        "a zone's own events are not replication"
    )
    assert all(not topic.startswith(cluster.prefix) for topic, _, _ in counts), (
        "topics are labelled without the deployment's prefix"
    )
    own = await counts_of(a)
    assert ("sts.revocations", "a", "a") not in own
