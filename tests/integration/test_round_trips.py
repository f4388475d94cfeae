"""Database round trips of a login and of a code exchange, counted on the real pool (every
statement a connection of auth's pool sends on behalf of a request): a guard that the hot path
does not grow a round trip unnoticed. The counts are what the code does (deterministic), not
timings."""

from __future__ import annotations

from tests.integration.test_oidc_provider import (
    basic,
    code_for,
    exchange,
    pkce,
    register,
    sso_token,
    token,
)
from tests.support.cluster import ADMIN_PASSWORD, Cluster, login
from tests.support.factors import oathtool, second_step, two_factor_setup, verify
from tests.support.statements import counted


async def test_round_trips_of_a_password_login(cluster: Cluster) -> None:
    zone = await cluster.start("a", database_pool_min=10)
    await cluster.bootstrap(zone)
    status, _ = await login(zone, "fysio", "admin", ADMIN_PASSWORD)  # warm: keys, caches
    async with counted(zone) as statements:
        status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    print(f"password-only login: {len(statements)} round trips {statements}")
    # The login's view with the guess reserved, the login opened (settling the guess) and
    # read back, the one statement completing it. 15 before the right guess's pending row was
    # settled by the statement opening the login, 14 before the success's reset and last
    # login became one statement, 12 before the username's lock and the guess's reservation
    # became one (reserve_attempt), 11 before it ran without a transaction of its own, 9 before
    # the completion became one statement (BEGIN, opening, the cutoff read, token.issued, the
    # reset and last login, login.succeeded, COMMIT), 4 before the view and the reservation
    # became one.
    assert "r.failures" in statements[0], statements  # the view with reserve_attempt's answer
    assert len(statements) <= 3, statements


async def test_round_trips_of_a_totp_login(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, database_pool_min=10)
    async with counted(s.zone) as password_step:
        body = await second_step(s.zone)
    async with counted(s.zone) as totp_step:
        status, answer = await verify(s.zone, body["login_id"], "totp", await oathtool(s.secret))
    assert status == 200, answer
    print(f"TOTP login: {len(password_step)} + {len(totp_step)} round trips")
    print(f"  password step {password_step}\n  TOTP step {totp_step}")
    # The login's view with the guess reserved (the username's lock, its failures, the
    # pending row: one statement, its own transaction), the login opened (settling the
    # guess). 7 before the same settling, 6 before the lock and the reservation became one
    # statement, 5 before that statement ran without BEGIN and COMMIT around it, 3 before the
    # view and the reservation became one.
    assert "r.failures" in password_step[0], password_step
    assert len(password_step) <= 2, password_step
    # The completion guarded by the login as its password step read it back (migration 027:
    # the locks taken, the login read again under them, the step spent with the completion
    # and its events); 4 before (BEGIN, the login read under its locks, the completion,
    # COMMIT), 6 before the username's lock and the failures read under it became one call.
    assert "AS seen FROM" in password_step[-1], password_step  # open_login, read back
    assert totp_step == [totp_step[0]] and "complete_totp_seen" in totp_step[0], totp_step


async def test_round_trips_of_a_code_exchange_and_a_refresh(cluster: Cluster) -> None:
    zone = await cluster.start("a", database_pool_min=10)
    await cluster.bootstrap(zone)
    secret = await register(zone, "app")
    assert secret
    sso = await sso_token(zone)
    for _ in range(2):  # the first warms the client's and the session's state
        verifier, challenge = pkce()
        code = (await code_for(zone, sso, "app", challenge))["code"]
        async with counted(zone) as statements:
            status, body, _ = await exchange(zone, code, verifier, secret)
        assert status == 200, body
    print(f"code exchange: {len(statements)} round trips {statements}")
    # The code spent, the grant stored and its two events queued in one statement. 6 before
    # (BEGIN, the spending, the grant, oidc.granted, token.issued, COMMIT).
    assert len(statements) == 1 and "oidc_spent_codes" in statements[0], statements
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    async with counted(zone) as statements:
        status, body, _ = await token(zone, refresh, basic("app", secret))
    assert status == 200, body
    print(f"refresh: {len(statements)} round trips {statements}")
    # The family rotated from the presented token and its two events queued in one statement
    # (oidc_store.rotate). 6 before (BEGIN, the family's row locked, the rotation,
    # oidc.refreshed, token.renewed, COMMIT), the way a reuse still goes.
    assert len(statements) == 1 and "UPDATE oidc_grants" in statements[0], statements
