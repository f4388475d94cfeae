"""The notifier's metrics: deliveries, failures, retries, dead letters, latency, queue."""

from __future__ import annotations

from shared.metrics import Metrics


class NotifierMetrics(Metrics):
    def __init__(self, zone: str) -> None:
        super().__init__("notifier", zone)
        self.sent = self.counter("notify_sent_total", "Messages delivered", ["channel"])
        self.failed = self.counter(
            "notify_failed_total", "Messages given up on, by reason", ["channel", "reason"]
        )
        self.retries = self.counter(
            "notify_retries_total", "Attempts that will be retried", ["channel", "reason"]
        )
        self.dead_letters = self.counter(
            "notify_dead_letters_total", "Requests sent to notify.dlq", ["reason"]
        )
        self.latency = self.histogram(
            "notify_delivery_seconds",
            "From request time to acceptance by SMTP/gateway",
            ["channel"],
        )
        self.queued = self.gauge("notify_queued", "Messages waiting for delivery")
