"""What an operator reads in the logs (issue 12): JSON lines naming the service, its zone and,
where there is one, the practice and the request id, for a start, failed logins, a lockout, a
dead letter, a task restart and a readiness change.

Real auth (zone b) on the real broker and PostgreSQL; the lines are captured from the root
logger through the services' own formatter."""

from __future__ import annotations

import asyncio
import json

from shared.events import Envelope
from shared.http import RUNTIME
from shared.outbox import publish
from shared.topics import DIRECTORY_PRACTICES
from tests.support.cluster import ADMIN_PASSWORD, Cluster
from tests.support.logs import Lines

P = "fysio"


async def test_start_failed_logins_a_lockout_a_dead_letter_a_task_restart_are_logged(
    cluster: Cluster, lines: Lines
) -> None:
    auth = await cluster.start("b")
    await cluster.bootstrap(auth, P)
    [started] = lines.where(version=...)
    assert started["service"] == "auth" and started["zone"] == "b"
    assert started["version"] and started["ops_port"] > 0
    keys = lines.where(kid=...)
    algorithms = sorted(key["message"].split(" ", 1)[0] for key in keys)
    assert algorithms == ["EdDSA", "RS256"], "a key of each algorithm"
    for key in keys:
        assert (key["service"], key["zone"]) == ("auth", "b") and key["kid"].startswith("b-")
        assert f"signing key {key['kid']} created" in key["message"]

    # Wrong passwords until the lockout (5 by default): each failure is a line at info, the
    # lock a warning; none holds the password.
    wrong = "Fout-Wachtwoord-12345"
    for attempt in range(6):
        response = await auth.client.post(
            "/v1/login",
            json={"practice": P, "username": "admin", "password": wrong},
            headers={"X-Request-Id": f"req-{attempt}"},
        )
        assert response.status in (401, 429)
    failed = lines.where(message="login failed: password", request_id="req-0")
    assert len(failed) == 1, lines.lines
    assert failed[0]["level"] == "info"
    assert (failed[0]["service"], failed[0]["zone"], failed[0]["practice"]) == ("auth", "b", P)
    assert failed[0]["username"] == "admin"
    [locked] = lines.where(message="account locked")
    assert locked["level"] == "warning" and locked["request_id"].startswith("req-")
    assert (locked["service"], locked["zone"], locked["practice"]) == ("auth", "b", P)
    assert locked["username"] == "admin" and locked["locked_until"]
    assert not [line for line in lines.lines if wrong in json.dumps(line)]
    assert not [line for line in lines.lines if ADMIN_PASSWORD in json.dumps(line)]

    # A practice upsert its handler refuses: dead-lettered, and the line says where and why.
    bad = Envelope(
        type="practice.upserted", source="test@a", practice=P, subject=P, data={"name": 5}
    )
    async with auth.auth.pool.acquire() as conn, conn.transaction():
        await publish(conn, auth.settings, DIRECTORY_PRACTICES, bad)
    [dead] = await lines.wait(message=..., event_id=str(bad.id))
    assert dead["message"].startswith("dead letter from ") and dead["level"] == "warning"
    assert (dead["service"], dead["zone"], dead["practice"]) == ("auth", "b", P)
    assert dead["topic"] == auth.settings.topic(DIRECTORY_PRACTICES.name)
    assert dead["event_type"] == "practice.upserted" and "name" in dead["reason"]
    assert "request_id" not in dead

    # A supervised task that fails: restarted, and readiness says so once, however often it
    # is probed.
    assert (await auth.ops.get("/readyz")).status == 200
    broken = asyncio.Event()

    async def failing() -> None:
        broken.set()
        raise RuntimeError("the disk is on fire")

    auth.app[RUNTIME].spawn(failing, "log-test")
    [restart] = await lines.wait(task="log-test")
    assert restart["level"] == "error" and restart["attempt"] == 1
    assert (restart["service"], restart["zone"], restart["error"]) == ("auth", "b", "RuntimeError")
    for _ in range(3):
        assert (await auth.ops.get("/readyz")).status == 503
    changes = lines.where(status=..., previous=...)
    assert [(c["previous"], c["status"]) for c in changes] == [
        ("starting", "ready"),
        ("ready", "not ready"),
    ]
    assert changes[-1]["failing"] == {"log-test": "RuntimeError: the disk is on fire"}
    assert (changes[-1]["service"], changes[-1]["zone"]) == ("auth", "b")
