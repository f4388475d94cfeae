"""Prometheus metrics per application: one registry each, labels ``service`` and ``zone``.

A registry per app (not the process-global one) lets tests run both zones in one process.
A worker of ``tweestap serve --workers N`` (:mod:`services.process.workers`) writes its values
to files instead (prometheus_client's multiprocess mode), and a scrape, whichever worker answers it,
adds up every worker's: counters and histograms summed, each gauge as its mode says.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Replication lag: the 1 s promise (DESIGN §4) in the middle, a broker outage at the top.
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: How a gauge's values of several workers make one: ``livemax`` for what every worker sees
#: alike (the zone's database: backlogs, dead rows, expiry times) or any worker may raise
#: (flags), ``livesum`` for each worker's share (a consumer's lag on its own partitions).
#: ``live``: only running workers count. Ignored by a single process.
GaugeMode = Literal["livemax", "livesum"]


#: prometheus_client's multiprocess mode: on in a process whose environment names the folder
#: (``tweestap serve --workers``, :mod:`services.process.workers`).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_shared() -> bool:
    """Whether this process's metrics go to files that a scrape adds up across workers."""
    return METRICS_DIR_ENV in os.environ


class Metrics:
    """Factory of ``tweestap_``-prefixed metrics that carry the service and zone labels."""

    def __init__(self, service: str, zone: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.zone = zone
        self.http_requests = self.counter(
            "http_requests_total", "HTTP requests by route and status", ["route", "status"]
        )
        self.http_latency = self.histogram(
            "http_request_seconds", "HTTP request latency by route", ["route"]
        )
        #: Labelled children already made (:meth:`labelled`).
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.outbox_backlog = self.gauge("outbox_backlog", "Outbox rows not yet published")
        self.outbox_published = self.counter("outbox_published_total", "Outbox rows published")
        self.outbox_dead = self.counter(
            "outbox_dead_total", "Outbox rows the broker refused for good, moved aside", ["reason"]
        )
        self.outbox_dead_rows = self.gauge(
            "outbox_dead_rows", "Rows in outbox_dead, waiting for an operator"
        )
        self.dead_letter_rows = self.gauge(
            "dead_letter_rows",
            "Rows in dead_letters by consumer: events set aside, waiting for an operator",
            ["consumer"],
        )
        self.outbox_relay_active = self.gauge(
            "outbox_relay_active",
            "1 while a process of the service holds its database's relay lock",
        )
        self.consumer_lag = self.gauge(
            "consumer_lag", "Messages behind the end of the topic", ["topic"], mode="livesum"
        )
        self.replication_lag = self.histogram(
            "replication_lag_seconds",
            "From an event's time in its origin zone to its application in this zone",
            ["topic", "origin"],
            buckets=LAG_BUCKETS,
        )
        self.events_consumed = self.counter(
            "events_consumed_total", "Events consumed by topic and outcome", ["topic", "outcome"]
        )
        self.catching_up = self.gauge(
            "catching_up",
            "1 while a consumer has not read to the end since it started on state that has "
            "consumed before or its database failed (the state may lack events on the bus)",
            ["consumer"],
        )
        self.task_restarts = self.counter(
            "task_restarts_total", "Background tasks restarted after they failed", ["task"]
        )

    def _labels(self, extra: Sequence[str]) -> list[str]:
        return ["service", "zone", *extra]

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(f"tweestap_{name}", doc, self._labels(labels), registry=self.registry)

    def gauge(
        self, name: str, doc: str, labels: Sequence[str] = (), mode: GaugeMode = "livemax"
    ) -> Gauge:
        return Gauge(
            f"tweestap_{name}",
            doc,
            self._labels(labels),
            registry=self.registry,
            multiprocess_mode=mode,
        )

    def histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return Histogram(
            f"tweestap_{name}",
            doc,
            self._labels(labels),
            registry=self.registry,
            buckets=buckets,
        )

    def exposition(self) -> bytes:
        """The text a scrape gets: this registry's metrics, or every worker's added up."""
        if not metrics_shared():
            return generate_latest(self.registry)
        workers = CollectorRegistry()
        MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
        return generate_latest(workers)

    def labelled(self, metric: Any, **labels: str) -> Any:
        """``metric.labels(service, zone, **labels)``, made once per set of values and kept:
        ``labels()`` takes a lock and builds its key on every call, a cost on every request
        of the hot paths. The values must come from a small set (routes, statuses, kinds)."""
        key = (id(metric), tuple(labels.values()))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(**self.base(), **labels)
        return child

    def http_answered(self, route: str, status: int, seconds: float) -> None:
        """One HTTP answer counted (``http_requests_total``), timed (``http_request_seconds``)."""
        self.labelled(self.http_requests, route=route, status=str(status)).inc()
        self.labelled(self.http_latency, route=route).observe(seconds)

    def base(self) -> dict[str, str]:
        """The constant labels, to splat into ``.labels(**metrics.base(), ...)``."""
        return {"service": self.service, "zone": self.zone}
