"""One local deployment (services/dev/deployment.py) per test session, for every fault test:
both zones of every service as real OS processes on free ports, each zone's own embedded
PostgreSQL, one embedded broker, the SMTP and SMS sinks, and the web front door (the issuer).
Each test leaves it as it found it (``deployment`` restores every fault after the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.dev.deployment import Deployment
from tests.support.deployment import SERVICE_ENV, Transcript


@pytest.fixture(scope="session")
def transcript() -> Transcript:
    return Transcript()


@pytest.fixture(scope="session")
def fault_deployment(
    tmp_path_factory: pytest.TempPathFactory, transcript: Transcript
) -> Iterator[Deployment]:
    """The session's deployment, started once (use ``deployment`` in tests: it restores)."""
    root = tmp_path_factory.mktemp("deployment")
    deployment = Deployment(root, ports="free", env=SERVICE_ENV, echo=transcript, web=True)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def deployment(fault_deployment: Deployment) -> Iterator[Deployment]:
    """The running deployment; after the test every fault is undone (broker resumed,
    PostgreSQL started, services started and ready)."""
    fault_deployment.restore()
    yield fault_deployment
    fault_deployment.restore()
