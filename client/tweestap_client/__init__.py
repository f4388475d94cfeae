"""Tweestap's client SDK (DESIGN §8): login, sliding-window tokens, zone failover."""

from tweestap_client.client import (
    DEFAULT_HEDGE_AFTER,
    DEFAULT_LIVENESS_TIMEOUT,
    DEFAULT_PASSWORD_TIMEOUT,
    DEFAULT_RENEW_TIMEOUT,
    DEFAULT_TIMEOUT,
    TOKEN_EXPIRED,
    CardChallenge,
    LoginInterrupted,
    NotLoggedIn,
    Response,
    SessionEnded,
    Step,
    TweestapClient,
    TweestapError,
    ZonesUnavailable,
    acting_for,
)
from tweestap_client.window import Schedule, Window, estimate_skew

__all__ = [
    "DEFAULT_HEDGE_AFTER",
    "DEFAULT_LIVENESS_TIMEOUT",
    "DEFAULT_PASSWORD_TIMEOUT",
    "DEFAULT_RENEW_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "TOKEN_EXPIRED",
    "CardChallenge",
    "LoginInterrupted",
    "NotLoggedIn",
    "Response",
    "Schedule",
    "SessionEnded",
    "Step",
    "TweestapClient",
    "TweestapError",
    "Window",
    "ZonesUnavailable",
    "acting_for",
    "estimate_skew",
]
