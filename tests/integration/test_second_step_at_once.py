"""The TOTP step at once (issue 27, migration auth 027): decided on the login read without
locks, then completed by one statement only if the login's row (its failures, factors,
employee, practice) is unchanged once the login and the username are locked. Anything that
changed in between writes nothing, and the locked way decides again: the lockout stays exact
(a guess is only ever answered on the failures read under the username's lock)."""

from __future__ import annotations

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.adapters import totp_steps
from services.auth.factors import SECOND_STAGES
from shared import otp
from shared.events import utcnow
from tests.support.cluster import Cluster
from tests.support.factors import oathtool, second_step, two_factor_setup, verify, wrong


async def _writes(pool: asyncpg.Pool, login_id: str) -> tuple[int, int, bool]:
    """The TOTP steps spent, the sessions started and whether the login is done (the outbox
    is no measure: the relay empties it)."""
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM totp_steps) AS steps, "
        "(SELECT count(*) FROM sessions) AS sessions, "
        "(SELECT done FROM logins WHERE id = $1) AS done",
        login_id,
    )
    return int(row["steps"]), int(row["sessions"]), bool(row["done"])


async def test_a_failure_in_between_writes_nothing_and_the_locked_way_decides(
    cluster: Cluster,
) -> None:
    s = await two_factor_setup(cluster)
    pool = s.zone.auth.pool
    body = await second_step(s.zone)
    login_id = body["login_id"]
    now = utcnow()
    async with pool.acquire() as conn:
        seen = await repo.second_step_seen(conn, login_id, SECOND_STAGES, now)
    assert seen is not None
    step, fingerprint = seen
    factor = step.factors[0]
    # What the decision read changes: a wrong code is counted for the username meanwhile.
    code = await oathtool(s.secret)
    status, _ = await verify(s.zone, login_id, "totp", wrong(code))
    assert status == 401
    before = await _writes(pool, login_id)
    used_step = otp.match_totp(s.secret, code, now)
    assert used_step is not None
    async with pool.acquire() as conn:
        answer = await repo.complete_login_if_unchanged(
            conn,
            login_id,
            SECOND_STAGES,
            fingerprint,
            now,
            [],
            totp_steps.spend(factor.id, used_step),
        )
    assert answer == (False, False, False), "the fingerprint no longer matches"
    assert await _writes(pool, login_id) == before, "no step spent, no session, still open"
    # Read again, the row has another fingerprint; the right code still completes the login.
    async with pool.acquire() as conn:
        again = await repo.second_step_seen(conn, login_id, SECOND_STAGES, now)
    assert again is not None and again[1] != fingerprint
    status, answer_body = await verify(s.zone, login_id, "totp", code)
    assert status == 200 and answer_body["token"], answer_body


async def test_a_right_code_completes_in_two_statements_once(cluster: Cluster) -> None:
    """The same right code sent twice: the first completes the login at once, the second
    finds the login gone (404), through the locked way."""
    s = await two_factor_setup(cluster)
    body = await second_step(s.zone)
    code = await oathtool(s.secret)
    first = await verify(s.zone, body["login_id"], "totp", code)
    second = await verify(s.zone, body["login_id"], "totp", code)
    assert first[0] == 200, first
    assert second[0] == 404 and second[1]["type"].endswith("/login-not-found"), second
