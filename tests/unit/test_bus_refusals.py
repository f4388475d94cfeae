"""How the bus sorts the broker's answers per message (issue 10 #14a): a refusal for good is
reported for that message alone; anything else is raised so the whole batch is sent again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)

from shared.bus import Bus
from shared.sealing import generate_key
from shared.settings import Settings


class FakeProducer:
    """Answers each message by its value: b"ok", or the error class named by the value."""

    def __init__(self, errors: dict[bytes, Exception]) -> None:
        self.errors = errors

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Any]:
        if value == b"too-large":
            raise MessageSizeTooLargeError("larger than max_request_size")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if value in self.errors:
            future.set_exception(self.errors[value])
        else:
            future.set_result(None)
        return future


class FakeBus(Bus):
    def __init__(self, producer: FakeProducer) -> None:
        super().__init__(Settings(sealing_keys=f"t1:{generate_key()}"))
        self.fake = producer

    async def producer(self) -> Any:
        return self.fake

    async def _check_topics(self, producer: Any, topics: set[str]) -> None:
        return None


async def test_refusals_for_good_are_reported_per_message() -> None:
    denied = TopicAuthorizationFailedError()
    bus = FakeBus(FakeProducer({b"denied": denied}))
    outcomes = await bus.send_batch(
        [("t", "k", b"ok"), ("t", "k", b"too-large"), ("t", "k", b"denied"), ("t", "k", b"ok")]
    )
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], MessageSizeTooLargeError)
    assert outcomes[2] is denied


@pytest.mark.parametrize("error", [KafkaTimeoutError(), KafkaConnectionError()])
async def test_other_errors_are_raised_so_the_batch_is_retried(error: Exception) -> None:
    bus = FakeBus(FakeProducer({b"later": error}))
    with pytest.raises(type(error)):
        await bus.send_batch([("t", "k", b"too-large"), ("t", "k", b"later"), ("t", "k", b"ok")])
