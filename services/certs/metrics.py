"""The certificate store's metrics: changes, expiry notices, each certificate's expiry."""

from __future__ import annotations

from shared.metrics import Metrics


class CertsMetrics(Metrics):
    def __init__(self, zone: str) -> None:
        super().__init__("certs", zone)
        self.changes = self.counter(
            "certificate_changes_total", "Certificate imports and changes", ["change"]
        )
        self.notices = self.counter(
            "certificate_expiry_notices_total", "Expiry notices queued", ["threshold"]
        )
        self.expiry = self.gauge(
            "certificate_expiry_timestamp_seconds",
            "When each certificate expires (Unix time)",
            ["practice", "nr"],
        )

    def changed(self, change: str) -> None:
        self.changes.labels(**self.base(), change=change).inc()

    def notice(self, threshold: int) -> None:
        self.notices.labels(**self.base(), threshold=str(threshold)).inc()
