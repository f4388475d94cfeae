"""The TOTP step completed from the login as the service saw it (migration 027): handed on by
its password step, or read without locks, and completed by one call only if the login is
still what was seen. Anything that changed in between sends the step the locked way, so the
answers are those of the locked step."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.auth.adapters.seen_steps import TOTP_COMPLETION
from shared.events import utcnow
from shared.http import RUNTIME
from tests.support.cluster import Cluster, login
from tests.support.factors import (
    PRACTICE,
    oathtool,
    problem,
    second_step,
    two_factor_practice,
    two_factor_setup,
    verify,
    wrong,
)
from tests.support.statements import counted


async def test_the_guarded_completion_is_the_code_statement(cluster: Cluster) -> None:
    """The function runs the statement of the code verbatim: when the code's completion
    changes, a migration must change the function too."""
    zone = await cluster.start("a")
    source = await zone.app[RUNTIME].pool.fetchval(
        "SELECT prosrc FROM pg_proc WHERE proname = 'complete_totp_seen'"
    )
    assert TOTP_COMPLETION in source


async def test_a_totp_step_read_without_the_password_step_is_two_round_trips(
    cluster: Cluster,
) -> None:
    s = await two_factor_setup(cluster, opened_logins_kept=0, database_pool_min=10)
    body = await second_step(s.zone)
    async with counted(s.zone) as statements:
        status, answer = await verify(s.zone, body["login_id"], "totp", await oathtool(s.secret))
    assert status == 200, answer
    # The login read without locks, with its hash; the guarded completion.
    assert len(statements) == 2, statements
    assert "complete_totp_seen" in statements[1], statements


async def test_a_lockout_after_the_password_step_holds_at_the_totp_step(
    cluster: Cluster,
) -> None:
    """The password step saw no failures; three wrong passwords lock the username before the
    right code comes: the code is refused as the locked step refuses it."""
    s = await two_factor_setup(cluster)
    zone = s.zone
    await two_factor_practice(s.zones, 3, max_attempts=3, lockout_seconds=600)
    body = await second_step(zone)
    for _ in range(3):
        status, _ = await login(zone, PRACTICE, "admin", "not the password at all")
        assert status == 401
    problem(
        await verify(zone, body["login_id"], "totp", await oathtool(s.secret)),
        429,
        "account-locked",
    )


async def test_a_wrong_code_after_the_password_step_is_counted(cluster: Cluster) -> None:
    """What the password step handed on is stale after a wrong code: the right one still
    completes, and the wrong one counted toward the lockout."""
    s = await two_factor_setup(cluster)
    zone = s.zone
    await two_factor_practice(s.zones, 3, max_attempts=2, lockout_seconds=600)
    valid = [await oathtool(s.secret, utcnow() + timedelta(seconds=d)) for d in (-30, 0, 30)]
    body = await second_step(zone)
    problem(await verify(zone, body["login_id"], "totp", wrong(*valid)), 401, "invalid-code")
    status, answer = await verify(zone, body["login_id"], "totp", valid[1])
    assert status == 200, answer
    # The success reset the failures: two wrong codes in a new login lock, not one.
    body = await second_step(zone)
    problem(await verify(zone, body["login_id"], "totp", wrong(*valid)), 401, "invalid-code")
    problem(await verify(zone, body["login_id"], "totp", wrong(*valid)), 401, "invalid-code")
    problem(await verify(zone, body["login_id"], "totp", valid[2]), 429, "account-locked")


async def test_one_code_sent_at_once_completes_the_login_once(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    body = await second_step(s.zone)
    code = await oathtool(s.secret)
    answers = await asyncio.gather(
        *(verify(s.zone, body["login_id"], "totp", code) for _ in range(6))
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) == 1, answers
    assert all(status in (200, 404) for status in statuses), answers
    # The step was spent once: a new login with the same code is a replay.
    again = await second_step(s.zone)
    problem(await verify(s.zone, again["login_id"], "totp", code), 401, "code-already-used")
