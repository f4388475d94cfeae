"""Where a partition ends, on the real broker: after a batch of several records the end is
past its last record (Tansu's ListOffsets names the batch's first record + 1, so a reader
stopping there misses the batch's tail: the convergence check's missed audit event)."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.dev.infra import Broker
from shared.partition_ends import partition_offsets


async def test_the_end_of_a_partition_is_past_the_tail_of_its_last_batch(broker: Broker) -> None:
    topic = f"ends-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=50)
    await producer.start()
    try:
        sent = [await producer.send(topic, b"one", partition=0)]
        await sent[0]
        batch = [await producer.send(topic, b"%d" % i, partition=0) for i in range(3)]
        offsets = [(await f).offset for f in batch]
    finally:
        await producer.stop()
    assert offsets == [1, 2, 3], "one batch after one record"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        held = await partition_offsets(consumer, parts)
    finally:
        await consumer.stop()
    ends = {tp: offsets.stop for tp, offsets in held.items()}
    assert ends == {parts[0]: 4, parts[1]: 0}
