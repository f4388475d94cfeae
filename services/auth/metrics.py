"""The auth service's metrics: logins, lockouts, password changes, tokens."""

from __future__ import annotations

import time

from shared.metrics import Metrics


class AuthMetrics(Metrics):
    def __init__(self, zone: str) -> None:
        super().__init__("auth", zone)
        self.logins = self.counter(
            "logins_total", "Password login attempts by outcome", ["outcome"]
        )
        self.login_latency = self.histogram("login_seconds", "Password login latency", ["outcome"])
        self.lockouts = self.counter("lockouts_total", "Accounts locked after too many failures")
        self.password_changes = self.counter("password_changes_total", "Passwords set or changed")
        self.token_ops = self.counter("tokens_total", "Tokens issued, renewed, revoked", ["kind"])
        self.token_latency = self.histogram(
            "token_seconds", "Latency of signing a token, by kind", ["kind"]
        )

    def login(self, outcome: str, started: float) -> None:
        self.logins.labels(**self.base(), outcome=outcome).inc()
        self.login_latency.labels(**self.base(), outcome=outcome).observe(
            time.perf_counter() - started
        )

    def tokens(self, kind: str, started: float | None) -> None:
        self.token_ops.labels(**self.base(), kind=kind).inc()
        if started is not None:
            self.token_latency.labels(**self.base(), kind=kind).observe(
                time.perf_counter() - started
            )
