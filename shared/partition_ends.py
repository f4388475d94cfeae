"""Where partitions end: the offset after each one's last record, as the broker has it now.

ListOffsets (``end_offsets``) alone is not enough on the broker we run: Tansu names the first
record of a partition's last batch + 1, so a reader that stops there misses the rest of that
batch (two events written in one transaction, sent as one batch). The last batch's own fetch
response carries the right highwater; learning it costs one fetch per non-empty partition.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

#: How long one partition's last batch may take to arrive.
FETCH_MS = 10_000


async def partition_offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, range]:
    """The offsets each partition holds now: from its first record to its end. Assigns
    ``partitions`` to ``consumer`` and moves its positions: the caller seeks afterwards."""
    consumer.assign(partitions)  # first: the offsets are asked of each partition's leader
    listed = await consumer.end_offsets(partitions)
    firsts = await consumer.beginning_offsets(partitions)
    held: dict[TopicPartition, range] = {}
    for tp in partitions:
        end = listed[tp]
        if end > firsts[tp]:  # not empty: learn where its last batch ends
            consumer.seek(tp, end - 1)
            await consumer.getmany(tp, timeout_ms=FETCH_MS, max_records=1)
            end = max(end, consumer.highwater(tp) or 0)
        held[tp] = range(firsts[tp], end)
    return held
