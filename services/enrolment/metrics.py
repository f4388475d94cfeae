"""The enrolment service's metrics: the wizard's outcomes, factor changes, codes sent."""

from __future__ import annotations

from shared.metrics import Metrics


class EnrolmentMetrics(Metrics):
    def __init__(self, zone: str) -> None:
        super().__init__("enrolment", zone)
        self.wizard = self.counter(
            "enrolment_steps_total",
            "Enrolment wizard steps by outcome",
            ["step", "outcome"],
        )
        self.factor_changes = self.counter(
            "factor_changes_total", "Second factors enrolled or deactivated", ["kind", "change"]
        )
        self.codes_sent = self.counter(
            "codes_sent_total", "Activation and confirmation codes queued for sending", ["purpose"]
        )
        self.directory_writes = self.counter(
            "directory_writes_total", "Practices and employees written", ["entity"]
        )
        self.audit_events = self.counter(
            "audit_events_total", "Audit records kept (each event once)", ["action"]
        )
        self.audit_purged = self.counter(
            "audit_purged_total", "Audit records deleted by the retention job"
        )

    def step(self, step: str, outcome: str) -> None:
        self.wizard.labels(**self.base(), step=step, outcome=outcome).inc()

    def factor(self, kind: str, change: str, count: int = 1) -> None:
        self.factor_changes.labels(**self.base(), kind=kind, change=change).inc(count)

    def code(self, purpose: str) -> None:
        self.codes_sent.labels(**self.base(), purpose=purpose).inc()

    def audited(self, action: str) -> None:
        self.audit_events.labels(**self.base(), action=action).inc()

    def purged(self, count: int) -> None:
        self.audit_purged.labels(**self.base()).inc(count)

    def written(self, entity: str) -> None:
        self.directory_writes.labels(**self.base(), entity=entity).inc()
