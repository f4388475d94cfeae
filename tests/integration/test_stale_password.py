"""A zone not yet told of a new password checks a guess against the old one. Its failures
then say nothing about the new password: once a zone knows the credential that replaced the
one a guess was checked against, before the guess was made, that failure no longer counts,
in every zone alike (the replicated failure names the credential it was checked against).
Found by the chaos run (docs/chaos.md): a person who kept typing the new password in the
stale zone was locked out of both."""

from __future__ import annotations

from functools import partial

from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.practices import set_policy
from tests.support.tokens import change_own_password

NEW = "Een-Nieuw-Wachtwoord-Dat-Zone-B-Nog-Niet-Kent"


async def _policy_version(zone: Zone, version: int) -> bool:
    v = await zone.auth.pool.fetchval("SELECT version FROM practices WHERE id = 'fysio'")
    return bool(v == version)


async def _failures(zone: Zone) -> int:
    return int(await zone.auth.pool.fetchval("SELECT count(*) FROM login_failures"))


async def test_the_new_password_tried_in_a_stale_zone_locks_no_one_out(private: Cluster) -> None:
    a = await private.start("a")
    b = await private.start("b")
    employee = await private.bootstrap(a)
    await set_policy(a, "fysio", 2, max_attempts=3, lockout_seconds=600)
    for zone in (a, b):
        await wait_for(partial(_policy_version, zone, 2))
    _, body = await login(a, "fysio", "admin", ADMIN_PASSWORD)
    old_changed = await b.auth.pool.fetchval(
        "SELECT changed_at FROM credentials WHERE employee = $1", employee
    )

    private.broker.pause()  # zone b hears nothing of the change for a while
    try:
        status, _ = await change_own_password(a, body["token"]["token"], ADMIN_PASSWORD, NEW)
        assert status == 200
        answers = [(await login(b, "fysio", "admin", NEW))[0] for _ in range(4)]
        # What b could know: the new password is a wrong guess against the old one, and three
        # of them lock, as they must (b cannot tell a stale zone from an attacker).
        assert answers == [401, 401, 401, 429], answers
    finally:
        private.broker.resume()

    async def told() -> bool:
        changed = await b.auth.pool.fetchval(
            "SELECT changed_at FROM credentials WHERE employee = $1", employee
        )
        return bool(changed != old_changed) and await _failures(a) == 3

    await wait_for(told, timeout=60, interval=0.3)
    for zone in (b, a):
        status, answer = await login(zone, "fysio", "admin", NEW)
        assert status == 200, (zone.settings.zone, answer)
    # The old password is wrong everywhere, and wrong guesses made now count as ever.
    for _ in range(3):
        status, _ = await login(b, "fysio", "admin", ADMIN_PASSWORD)
        assert status == 401
    status, answer = await login(b, "fysio", "admin", NEW)
    assert status == 429, answer
