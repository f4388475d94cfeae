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


async def partition_ends(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The end of each partition. Assigns ``partitions`` to ``consumer`` and moves its
    positions: the caller seeks where it wants to read afterwards."""
    consumer.assign(partitions)  # first: the offsets are asked of each partition's leader
    listed = await consumer.end_offsets(partitions)
    firsts = await consumer.beginning_offsets(partitions)
    ends = dict(listed)
    for tp in partitions:
        if listed[tp] <= firsts[tp]:
            continue  # empty: an empty batch does not exist
        consumer.seek(tp, listed[tp] - 1)
        await consumer.getmany(tp, timeout_ms=FETCH_MS, max_records=1)
        high = consumer.highwater(tp)
        if high is not None:
            ends[tp] = max(listed[tp], high)
    return ends
