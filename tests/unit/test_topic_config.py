"""How topics and producers are configured (issue 10 #14c): ``acks=all`` only means "no
acknowledged event lost" together with the topics' ``min.insync.replicas``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.bus import producer_options
from shared.settings import Settings, TopicSettings
from shared.topics import ALL, new_topics


def test_every_topic_is_created_with_min_insync_replicas() -> None:
    settings = Settings(topics=TopicSettings(replication_factor=3, min_insync_replicas=2))
    topics = new_topics(settings)
    assert len(topics) == len(ALL)
    for topic in topics:
        assert topic.replication_factor == 3
        assert topic.topic_configs["min.insync.replicas"] == "2"


def test_min_insync_replicas_defaults_to_one_for_a_single_broker() -> None:
    [topic] = new_topics(Settings(), ALL[:1])
    assert topic.topic_configs["min.insync.replicas"] == "1"


def test_min_insync_replicas_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError):
        TopicSettings(replication_factor=1, min_insync_replicas=2)


def test_the_producer_waits_for_every_in_sync_replica() -> None:
    options = producer_options(Settings(kafka_max_request_bytes=4096))
    assert options["acks"] == "all"
    assert options["max_request_size"] == 4096
