"""The local deployment supervises its services like an orchestrator, and ``tweestap zone
down|up`` takes a zone down and up through the control endpoint of a running deployment."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator

import aiohttp
import asyncpg
import pytest
from tweestap_client import TweestapClient

from services.dev.control import ControlServer
from services.dev.deployment import Deployment
from services.dev.supervisor import restart_delay
from tests.support.deployment import Transcript, auth_zones, new_account


async def _ready(deployment: Deployment, service: str, zone: str) -> int:
    return (await _readiness(deployment, service, zone))[0]


async def _readiness(deployment: Deployment, service: str, zone: str) -> tuple[int, str]:
    """The status of ``/readyz`` and its body (which check said no)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{deployment.ops_url(service, zone)}/readyz") as response,
    ):
        return response.status, await response.text()


async def _until(check: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {limit} s")
        await asyncio.sleep(0.05)


async def test_a_killed_service_is_reported_and_restarted(
    deployment: Deployment, transcript: Transcript
) -> None:
    mark = len(transcript.lines)
    before = deployment.restarts("enrolment", "b")
    old_pid = deployment.pid("enrolment", "b")

    deployment.kill("enrolment", "b")

    await asyncio.to_thread(deployment.wait_restarted, "enrolment", "b", before)
    assert deployment.restarts("enrolment", "b") == before + 1
    assert deployment.pid("enrolment", "b") != old_pid
    assert await _ready(deployment, "enrolment", "b") == 200
    said = transcript.since(mark)
    assert any(line.startswith("enrolment zone b exited (signal 9); restarting") for line in said)
    await _until(lambda: any("enrolment zone b restarted" in line for line in transcript.lines))


async def test_a_crash_loop_backs_off(deployment: Deployment, transcript: Transcript) -> None:
    mark = len(transcript.lines)
    for _ in range(2):
        before = deployment.restarts("certs", "b")
        deployment.kill("certs", "b")
        await asyncio.to_thread(deployment.wait_restarted, "certs", "b", before)

    said = [line for line in transcript.since(mark) if line.startswith("certs zone b exited")]
    base = deployment.settings.restart_backoff_seconds
    assert said == [
        f"certs zone b exited (signal 9); restarting in {base:.1f} s",
        f"certs zone b exited (signal 9); restarting in {2 * base:.1f} s",
    ], "an exit soon after a restart waits twice as long"


def test_restart_delay_doubles_up_to_its_ceiling() -> None:
    assert [restart_delay(n, 0.5, 3.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert restart_delay(10_000, 0.5, 3.0) == 3.0


async def test_a_held_service_stays_down_until_released(deployment: Deployment) -> None:
    before = deployment.restarts("certs", "a")
    await asyncio.to_thread(deployment.hold, "certs", "a")
    await asyncio.sleep(1.0)  # several supervisor rounds and more than the restart back-off
    assert not deployment.is_up("certs", "a")
    assert deployment.restarts("certs", "a") == before, "a held service is not restarted"
    await asyncio.to_thread(deployment.release, "certs", "a")
    assert await _ready(deployment, "certs", "a") == 200


@pytest.fixture
def control(deployment: Deployment) -> Iterator[ControlServer]:
    server = ControlServer(deployment, 0)  # a free port
    server.start()
    yield server
    server.stop()


async def _zone_command(control: ControlServer, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "zone",
        *args,
        "--control-port",
        str(control.port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _login_works(
    deployment: Deployment, zones: list[dict[str, str]], made_in: str | None = None
) -> int:
    """Log in with the SDK over ``zones``; the index of the zone that answered."""
    account = await new_account(deployment, "zone-cli", made_in)
    async with TweestapClient(zones) as client:
        step = await client.login(account.practice, account.username, account.password)
        assert step.next == "done" and client.token is not None
        return client.zone


async def test_zone_down_and_up_through_the_cli(
    deployment: Deployment, control: ControlServer
) -> None:
    code, out, err = await _zone_command(control, "down", "a")

    assert code == 0, err
    assert "zone a: auth, enrolment, certs, notifier killed (SIGKILL), held" in out
    assert "zone a: PostgreSQL stopped" in out
    for service in deployment.services:
        assert not deployment.is_up(service, "a")
    with pytest.raises(aiohttp.ClientConnectionError):
        await _ready(deployment, "auth", "a")
    with pytest.raises(OSError):
        await asyncpg.connect(deployment.dsn("auth", "a"), timeout=2)
    assert await _ready(deployment, "auth", "b") == 200
    zones = auth_zones(deployment)
    # Zone a's database is down: this practice is made in zone b.
    assert await _login_works(deployment, zones, made_in="b") == 1, "the SDK moved to zone b"

    code, out, err = await _zone_command(control, "up", "a")

    assert code == 0, err
    assert "zone a: PostgreSQL started" in out
    assert "zone a: auth, enrolment, certs, notifier ready" in out
    for service in deployment.services:
        status, body = await _readiness(deployment, service, "a")
        assert status == 200, f"{service}: {body}"
    assert await _login_works(deployment, zones) == 0, "zone a logs people in again"


async def test_zone_commands_refuse_what_does_not_exist(
    deployment: Deployment, control: ControlServer
) -> None:
    code, _, err = await _zone_command(control, "down", "c")
    assert code == 2 and "invalid choice" in err, "the CLI refuses an unknown zone"
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{control.port}/zones/c/down") as response,
    ):
        assert response.status == 404
        assert response.content_type == "application/problem+json"
        assert (await response.json(content_type=None))["type"].endswith("/unknown-zone")
    assert all(deployment.is_up(service, "a") for service in deployment.services)
