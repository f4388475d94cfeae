"""The certificate store's metrics: changes, expiry notices, each certificate's expiry."""

from __future__ import annotations

import contextlib
from datetime import datetime

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

    def expires(self, practice: str, nr: str, at: datetime) -> None:
        """Set the certificate's expiry gauge."""
        self.expiry.labels(**self.base(), practice=practice, nr=nr).set(at.timestamp())

    def forget(self, practice: str, nr: str) -> None:
        """Drop a removed certificate's expiry gauge (if this process had set it)."""
        with contextlib.suppress(KeyError):
            self.expiry.remove(self.service, self.zone, practice, nr)
