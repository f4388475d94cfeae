"""Real components for the suite: one embedded PostgreSQL and one Tansu broker per session;
a fresh database and a unique topic prefix per test, so tests are independent. What the
fixtures give is defined in tests/support (``cluster``, ``mail``, ``logs``, ``site``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from hypothesis import settings

from services.dev.infra import Broker, Postgres, free_port
from tests.support.cluster import Cluster
from tests.support.logs import Lines
from tests.support.mail import Inbox, SmtpSink
from tests.support.site import sites as sites  # a fixture: sites through the web front end

# Property tests check what holds, not how fast: on a busy CI machine an example may take
# longer than Hypothesis's default 200 ms deadline (timing goals live in bench/).
settings.register_profile("tweestap", deadline=None)
settings.load_profile("tweestap")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    pg = Postgres(tmp_path_factory.mktemp("pg") / "data")
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(free_port(), tmp_path_factory.mktemp("broker") / "broker.log")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSink(inbox, port)
    controller.stop()


@pytest.fixture
async def cluster(postgres: Postgres, broker: Broker) -> AsyncIterator[Cluster]:
    c = Cluster(postgres, broker)
    yield c
    await c.close()


@pytest.fixture
async def private(postgres: Postgres, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A cluster with a broker of its own, which the test may stop, pause and start."""
    broker = Broker(free_port(), tmp_path / "broker.log")
    broker.start()
    c = Cluster(postgres, broker)
    try:
        yield c
    finally:
        await c.close()
        broker.stop()


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The root logger's lines during the test (at info, the services' default level)."""
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
