"""Settings of the enrolment service (practices, employees, factor enrolment)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import Settings
from shared.webauthn import WebAuthnSettings

#: A BSN key shorter than this is refused at start (an HMAC key must not be guessable).
MIN_BSN_KEY_CHARS = 16
#: Five calendar years at their longest (two leap days in them): 5 * 365 + 2 days.
MIN_AUDIT_RETENTION_DAYS = 5 * 365 + 2


class EnrolmentSettings(Settings, WebAuthnSettings):
    service: str = "enrolment"
    #: The ``iss`` of the tokens auth signs (the same value as auth's ``TWEESTAP_ISSUER``).
    issuer: str = "https://tweestap.nl"
    #: Clock skew tolerated when verifying tokens.
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    #: HMAC-SHA256 key of BSN hashes (``TWEESTAP_BSN_KEY``). The same in both zones (a hash
    #: written in one zone is compared in the other); the service refuses to start without it.
    bsn_key: SecretStr = SecretStr("")
    #: Characters of an activation code (unambiguous letters and digits, ~5 bits each).
    activation_code_length: int = Field(default=10, ge=8, le=32)
    #: How long an activation code is valid; after a correct identity check, how long the
    #: employee has to confirm the new authenticator.
    activation_code_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    #: Activation codes an employee may have sent per hour (each new wizard start sends one).
    activation_sends_per_hour: int = Field(default=5, ge=1, le=100)
    #: Wrong identity checks (code, birth date, BSN) that block an enrolment until the
    #: practice administrator deactivates the employee's factors.
    identity_max_failures: int = Field(default=5, ge=1, le=100)
    #: Wrong TOTP codes at the wizard's confirm step before the enrolment is void.
    confirm_max_failures: int = Field(default=5, ge=1, le=100)
    #: How long an SMS/e-mail confirmation code (enrolling a weak factor) is valid.
    confirmation_code_seconds: int = Field(default=300, ge=1, le=3600)
    #: Digits of an SMS/e-mail confirmation code.
    confirmation_code_digits: int = Field(default=6, ge=6, le=10)
    #: Wrong confirmation codes before the pending SMS/e-mail factor is void.
    confirmation_max_attempts: int = Field(default=5, ge=1, le=100)
    #: Confirmation codes an employee may have sent per hour (SMS and e-mail together).
    confirmation_sends_per_hour: int = Field(default=5, ge=1, le=100)
    #: How long after a login with a recovery code the employee may enrol a new authenticator
    #: with that session (lost phone: recovery code → new TOTP app).
    recovery_reenrol_seconds: int = Field(default=900, ge=60, le=24 * 3600)
    #: Changing one's own sign-in methods (a new recovery code, a passkey, an SMS or e-mail
    #: factor) needs a two-factor login (never a certificate fallback) at most this long ago:
    #: a stolen session, or a 12 h fallback, cannot become a permanent second factor.
    factor_change_max_age_seconds: int = Field(default=900, ge=60, le=24 * 3600)
    #: Time zone of the times written in e-mails (``changed_at``, ``blocked_at``).
    mail_time_zone: str = "Europe/Amsterdam"
    #: Days an audit record is kept; older records are deleted by the retention job. At least
    #: five years (NEN 7513, DESIGN §5): a shorter period is refused at start, not quietly
    #: applied (a deleted record cannot come back). Longer is allowed (e.g. with the records
    #: of care, WGBO).
    audit_retention_days: int = Field(
        default=MIN_AUDIT_RETENTION_DAYS, ge=MIN_AUDIT_RETENTION_DAYS, le=100 * 366
    )
    #: Seconds between two runs of the audit retention job.
    audit_purge_interval_seconds: float = Field(default=3600, gt=0, le=7 * 24 * 3600)
