"""Metrics and probes live on the operations listener, not on the public port (issue 10 #16):
``/metrics`` names practices and certificate numbers, which the internet must not read."""

from __future__ import annotations

import pytest

from shared.settings import Settings
from tests.support.cluster import Cluster

OPS_PATHS = ("/metrics", "/healthz", "/readyz")


@pytest.mark.parametrize("service", ["auth", "certs"])
async def test_the_public_port_does_not_serve_metrics_or_probes(
    cluster: Cluster, service: str
) -> None:
    zone = await cluster.start("a", service)
    answers = {path: (await zone.client.get(path)).status for path in OPS_PATHS}
    assert answers == dict.fromkeys(OPS_PATHS, 404), f"public port answered {answers}"
    problem = await (await zone.client.get("/metrics")).json(content_type=None)
    assert problem["type"].endswith("not-found")


async def test_the_operations_listener_serves_metrics_and_probes(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    assert (await zone.ops.get("/healthz")).status == 200
    ready = await zone.ops.get("/readyz")
    assert ready.status == 200, await ready.text()
    text = await (await zone.ops.get("/metrics")).text()
    assert "tweestap_http_requests_total" in text
    # The ops listener serves nothing of the API.
    assert (await zone.ops.get("/openapi.json")).status == 404
    assert zone.ops.url.startswith("http://127.0.0.1:")
    assert zone.ops.url != str(zone.client.make_url("")).rstrip("/")


def test_the_operations_port_defaults_to_the_public_port_plus_1000() -> None:
    assert Settings(port=8101).ops_listen_port() == 9101
    assert Settings(port=8101, ops_port=9999).ops_listen_port() == 9999
    assert Settings(port=0).ops_listen_port() == 0  # an ephemeral public port: ephemeral too
    with pytest.raises(ValueError, match="TWEESTAP_OPS_PORT"):
        Settings(port=65000).ops_listen_port()
