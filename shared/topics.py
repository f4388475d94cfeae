"""The topics of Tweestap and how each is created (documented in docs/asyncapi.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import NewTopic

from shared.settings import Settings


@dataclass(frozen=True)
class Topic:
    name: str
    compacted: bool = False
    #: Whether a consumer applies only records with Tweestap's tag (:mod:`shared.bus_tags`):
    #: every topic whose events change security state.
    tagged: bool = True


DIRECTORY_PRACTICES = Topic("directory.practices", compacted=True)
#: Open to host systems (an untagged upsert cannot make an administrator there:
#: :mod:`shared.directory_trust`).
DIRECTORY_EMPLOYEES = Topic("directory.employees", compacted=True, tagged=False)
AUTH_EVENTS = Topic("auth.events")
AUTH_CREDENTIALS = Topic("auth.credentials", compacted=True)
ENROLMENT_EVENTS = Topic("enrolment.events")
FACTORS = Topic("factors", compacted=True)
NOTIFY_REQUESTS = Topic("notify.requests")
NOTIFY_RESULTS = Topic("notify.results")
NOTIFY_DLQ = Topic("notify.dlq")
#: Compacted: it carries each certificate's whole state (key ``practice:nr``); expiry events
#: have keys of their own (``practice:nr:expiry:days``), so compaction never drops a state.
CERTS_EVENTS = Topic("certs.events", compacted=True)
#: Authenticated by the deployment's trust key instead (:mod:`shared.trust`).
STS_KEYS = Topic("sts.keys", compacted=True, tagged=False)
STS_REVOCATIONS = Topic("sts.revocations")
DEAD_LETTERS = Topic("deadletters")

ALL = (
    DIRECTORY_PRACTICES,
    DIRECTORY_EMPLOYEES,
    AUTH_EVENTS,
    AUTH_CREDENTIALS,
    ENROLMENT_EVENTS,
    FACTORS,
    NOTIFY_REQUESTS,
    NOTIFY_RESULTS,
    NOTIFY_DLQ,
    CERTS_EVENTS,
    STS_KEYS,
    STS_REVOCATIONS,
    DEAD_LETTERS,
)


def new_topics(settings: Settings, topics: tuple[Topic, ...] = ALL) -> list[NewTopic]:
    """Topic definitions with partitions, replication and retention/compaction from config."""
    cfg = settings.topics
    result = []
    for topic in topics:
        configs = (
            {"cleanup.policy": "compact"}
            if topic.compacted
            else {"cleanup.policy": "delete", "retention.ms": str(cfg.retention_ms)}
        )
        configs["min.insync.replicas"] = str(cfg.min_insync_replicas)
        result.append(
            NewTopic(
                settings.topic(topic.name),
                cfg.partitions,
                cfg.replication_factor,
                topic_configs=configs,
            )
        )
    return result
