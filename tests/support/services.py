"""Real auth, enrolment and certs of one zone with the practice's administrator logged in (the
``rig`` fixture), for tests of what crosses between the services: the bus and the tokens."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from shared.events import Envelope
from shared.http import RUNTIME
from tests.support.bus import produce, read_topic
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.tokens import knows_tokens_of

P = "fysio"


@dataclass
class Rig:
    cluster: Cluster
    auth: Zone
    enrolment: Zone
    certs: Zone
    admin: str
    admin_token: str

    @property
    def zones(self) -> dict[str, Zone]:
        return {"auth": self.auth, "enrolment": self.enrolment, "certs": self.certs}

    def pool(self, service: str) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.zones[service].app[RUNTIME].pool
        return pool

    def topic(self, name: str) -> str:
        return f"{self.cluster.prefix}{name}"

    async def produce(self, topic: str, event: Envelope) -> None:
        """``event`` on ``topic`` as a producer with rights on the broker writes it: untagged."""
        await produce(self.cluster.broker.bootstrap, self.topic(topic), event)

    async def call(self, service: str, method: str, path: str, token: str, body: Any = None) -> Any:
        response = await self.zones[service].client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status, await response.json(content_type=None)

    async def dead_letters_on_topic(self, about_topic: str, count: int) -> list[dict[str, Any]]:
        """The dead letters announced on the ``deadletters`` topic about ``about_topic``."""
        topic = self.topic(about_topic)

        def about(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in events if e["data"].get("topic") == topic]

        events = await read_topic(
            self.cluster.broker.bootstrap,
            self.topic("deadletters"),
            lambda es: len(about(es)) >= count,
        )
        return about(events)


@pytest.fixture
async def rig(cluster: Cluster) -> AsyncIterator[Rig]:
    auth = await cluster.start("a")
    enrolment = await cluster.start("a", "enrolment")
    certs = await cluster.start("a", "certs")
    admin = await cluster.bootstrap(auth)
    rig = Rig(cluster, auth, enrolment, certs, admin, "")

    for service in ("enrolment", "certs"):
        await wait_for(functools.partial(knows_tokens_of, rig.pool(service), auth, P, admin))
    status, body = await login(auth, P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    rig.admin_token = body["token"]["token"]
    yield rig
