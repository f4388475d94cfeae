"""The web's knowledge of auth's upstream logins (services/web/upstreams.py): asked once per
while, one asker at a time, the last answer standing while auth cannot answer."""

from __future__ import annotations

import asyncio

from services.web.upstreams import UpstreamLogins, _ids


class Auth:
    def __init__(self) -> None:
        self.answer: frozenset[str] | None = frozenset({"dezi"})
        self.asked = 0
        self.gate: asyncio.Event | None = None

    async def ask(self) -> frozenset[str] | None:
        self.asked += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.answer


async def test_auth_is_asked_once_per_while_and_its_last_answer_stands() -> None:
    now = [0.0]
    logins = UpstreamLogins(keep_seconds=60, retry_seconds=5, clock=lambda: now[0])
    auth = Auth()
    assert logins.known() == frozenset()
    assert await logins.current(auth.ask) == {"dezi"}
    now[0] = 59
    auth.answer = frozenset()
    assert await logins.current(auth.ask) == {"dezi"} and auth.asked == 1
    # Kept long enough: asked again, and Dezi is gone.
    now[0] = 61
    assert await logins.current(auth.ask) == frozenset() and auth.asked == 2
    # Auth cannot answer: what it said last stands, asked again after the retry time.
    auth.answer = None
    now[0] = 122
    assert await logins.current(auth.ask) == frozenset() and auth.asked == 3
    now[0] = 126
    assert await logins.current(auth.ask) == frozenset() and auth.asked == 3
    auth.answer = frozenset({"dezi"})
    now[0] = 127.5
    assert await logins.current(auth.ask) == {"dezi"} and auth.asked == 4
    assert logins.known() == {"dezi"}


async def test_one_request_asks_while_the_others_use_what_is_known() -> None:
    logins = UpstreamLogins()
    auth = Auth()
    auth.gate = asyncio.Event()
    first = asyncio.create_task(logins.current(auth.ask))
    await asyncio.sleep(0)
    assert await logins.current(auth.ask) == frozenset()
    auth.gate.set()
    assert await first == {"dezi"} and auth.asked == 1


def test_auths_answer_read_strictly() -> None:
    assert _ids({"providers": [{"id": "dezi", "name": "Dézi"}]}) == frozenset({"dezi"})
    assert _ids({"providers": []}) == frozenset()
    assert _ids({"providers": [{"name": "x"}, "dezi", {"id": 7}]}) == frozenset()
    assert _ids({"type": "about:blank"}) is None and _ids(None) is None
