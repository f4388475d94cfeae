"""The auth service's metrics: logins, second factors, lockouts, password changes, tokens,
the liveness state in memory."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Histogram

from shared.liveness import Liveness
from shared.metrics import Metrics, metrics_shared
from shared.supervision import TaskFactory

#: With several workers, how often each writes its liveness gauges (a scrape cannot ask them).
LIVENESS_GAUGE_SECONDS = 1.0

TOTP_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


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
        self.hash_cpu = self.counter(
            "argon2_cpu_seconds_total",
            "CPU time the hashing threads spent in argon2id (password checks and hashes)",
        )
        self.second_factors = self.counter(
            "second_factor_total",
            "Second-factor verifications by factor and outcome",
            ["factor", "outcome"],
        )
        # Opening the secret and three HMACs take tens of microseconds: finer buckets.
        self.totp_latency = Histogram(
            "tweestap_totp_verify_seconds",
            "Time to check a TOTP code against the employee's factors",
            ["service", "zone"],
            registry=self.registry,
            buckets=TOTP_BUCKETS,
        )
        self.codes_sent = self.counter(
            "login_codes_total",
            "SMS/e-mail login code requests by channel and outcome",
            ["channel", "outcome"],
        )

        self.fallback_logins = self.counter(
            "fallback_logins_total",
            "Certificate fallback login attempts by outcome",
            ["outcome"],
        )

        self.oidc_requests = self.counter(
            "oidc_requests_total",
            "OpenID Provider requests (token: authorization_code, refresh_token; par; revoke; "
            "userinfo; code) by outcome (ok or the OAuth error)",
            ["endpoint", "outcome"],
        )
        self.oidc_latency = self.histogram(
            "oidc_seconds", "OpenID Provider request latency in auth", ["endpoint"]
        )
        self.backchannel_logouts = self.counter(
            "backchannel_logouts_total",
            "Back-channel logout tokens handed to the notifier for ended grants",
        )
        self.liveness_staleness = self.gauge(
            "liveness_staleness_seconds",
            "Seconds since the newest heartbeat of the liveness state that came back was sent "
            "(+Inf before the first): every change committed before then is in memory",
        )
        self.liveness_entries = self.gauge(
            "liveness_entries", "Entries the liveness state holds in memory"
        )
        self.liveness_answers = self.counter(
            "liveness_answers_total",
            "Checks of a session's liveness or of a relying service, by where they were "
            "answered (memory: the liveness state; database)",
            ["check", "source"],
        )

    def watch_liveness(self, liveness: Liveness) -> TaskFactory | None:
        """Count ``liveness``'s answers and show its staleness and size: read at each scrape,
        or, with several workers (whose files a scrape reads), the task to run that writes
        them every :data:`LIVENESS_GAUGE_SECONDS`."""
        answers = {
            (check, source): self.liveness_answers.labels(
                **self.base(), check=check, source=source
            ).inc
            for check in ("session", "client")
            for source in ("memory", "database")
        }
        liveness.on_answer = lambda check, source: answers[check, source]()
        staleness = self.liveness_staleness.labels(**self.base())
        entries = self.liveness_entries.labels(**self.base())
        if not metrics_shared():
            staleness.set_function(liveness.proof_age)
            entries.set_function(lambda: liveness.state.size())
            return None

        async def publish() -> None:
            while True:
                staleness.set(liveness.proof_age())
                entries.set(liveness.state.size())
                await asyncio.sleep(LIVENESS_GAUGE_SECONDS)

        return publish

    def oidc(self, endpoint: str, outcome: str, started: float) -> None:
        self.oidc_requests.labels(**self.base(), endpoint=endpoint, outcome=outcome).inc()
        self.oidc_latency.labels(**self.base(), endpoint=endpoint).observe(
            time.perf_counter() - started
        )

    def login(self, outcome: str, started: float) -> None:
        self.logins.labels(**self.base(), outcome=outcome).inc()
        self.login_latency.labels(**self.base(), outcome=outcome).observe(
            time.perf_counter() - started
        )

    def second_factor(self, factor: str, outcome: str) -> None:
        self.second_factors.labels(**self.base(), factor=factor, outcome=outcome).inc()

    def totp_checked(self, started: float) -> None:
        self.totp_latency.labels(**self.base()).observe(time.perf_counter() - started)

    def code_sent(self, channel: str, outcome: str) -> None:
        self.codes_sent.labels(**self.base(), channel=channel, outcome=outcome).inc()

    def tokens(self, kind: str, started: float | None) -> None:
        self.labelled(self.token_ops, kind=kind).inc()
        if started is not None:
            self.labelled(self.token_latency, kind=kind).observe(time.perf_counter() - started)

    def fallback(self, outcome: str) -> None:
        self.fallback_logins.labels(**self.base(), outcome=outcome).inc()
