"""The services' settings of a local deployment under faults: the fault tests'
(tests/faults/conftest.py) and ``tweestap chaos``'s."""

from __future__ import annotations

#: Every service of a deployment under faults gets these. Replication is fast (a short outbox
#: sweep); the load comes from one address, so auth's per-address login budget is lifted; and
#: password hashing is cheaper (argon2 at its floor) so that 20 clients logging in on a small
#: machine measure failover, not hashing.
FAULT_SERVICE_ENV = {
    "TWEESTAP_OUTBOX_SWEEP_SECONDS": "0.2",
    "TWEESTAP_LOGIN_RATE_ATTEMPTS": "100000",
    "TWEESTAP_LOGIN_RATE_WINDOW_SECONDS": "1",
    "TWEESTAP_ARGON2_MEMORY_KIB": "8192",
    "TWEESTAP_ARGON2_TIME_COST": "1",
    "TWEESTAP_TOPIC_PARTITIONS": "2",
}
