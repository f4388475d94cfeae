"""An introspection probe beside a load: how long a relying service waits for RFC 7662
introspection while the server is busy with something else (``bench login --probe``). Relying
services introspect on every request they serve, so a login storm must not hold them up.

The probe runs in a thread of the bench process, one introspection at a time at a fixed
rate, over the same window as the load."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import aiohttp

from bench.harness import START_SLACK_S, Stack, login_once, percentile
from bench.introspect import relying_service


class IntrospectionProbe:
    """Introspect one live token ``rate`` times a second, from ``warmup`` after
    :meth:`start` for ``seconds``; :meth:`result` waits for the end."""

    def __init__(self, stack: Stack, rate: float, seconds: float, warmup: float) -> None:
        token = login_once(stack)["token"]["token"]
        self._url = f"{stack.base_url}/v1/tokens/introspect"
        self._body = json.dumps({"token": token}).encode()
        self._headers = {
            "Authorization": relying_service(stack.settings),
            "Content-Type": "application/json",
        }
        self._interval = 1 / rate
        self._seconds = seconds
        self._warmup = warmup
        self._latencies_ms: list[float] = []
        self._failures = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def _run(self) -> None:
        start_at = time.monotonic() + START_SLACK_S + self._warmup
        end_at = start_at + self._seconds
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        async with aiohttp.ClientSession() as session:
            due = time.monotonic()
            while due < end_at:
                sent = time.monotonic()
                try:
                    async with session.post(
                        self._url, data=self._body, headers=self._headers
                    ) as response:
                        answer = await response.json()
                    if response.status != 200 or answer.get("active") is not True:
                        self._failures += 1
                    else:
                        self._latencies_ms.append((time.monotonic() - sent) * 1000)
                except (aiohttp.ClientError, TimeoutError):
                    self._failures += 1
                due += self._interval
                await asyncio.sleep(max(0.0, due - time.monotonic()))

    def result(self) -> dict[str, Any]:
        self._thread.join()
        values = self._latencies_ms
        return {
            "introspections": len(values),
            "failures": self._failures,
            "p50_ms": percentile(values, 50),
            "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99),
            "max_ms": percentile(values, 100),
        }
