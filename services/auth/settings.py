"""Settings of the auth service (login, lockout, password policy, secure token service)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from services.auth.card_settings import CardSettings
from services.auth.dezi_settings import DeziSettings
from shared import assurance
from shared.assurance import Level
from shared.settings import Settings
from shared.webauthn import WebAuthnSettings

DAY = 24 * 3600


class AuthSettings(Settings, WebAuthnSettings, CardSettings, DeziSettings):
    service: str = "auth"
    #: The public base URL of auth (``iss`` of its tokens): discovery is served at
    #: ``{issuer}/.well-known/openid-configuration`` and names endpoints under it.
    issuer: str = "https://tweestap.nl"
    #: How long caches may keep the public keys and the discovery document (every other
    #: answer is ``Cache-Control: no-store``).
    public_metadata_max_age_seconds: int = Field(default=300, ge=0, le=3600)
    #: RFC 9068 ``client_id`` of tokens from a login: the front end that logs people in.
    token_client_id: str = "tweestap-web"  # noqa: S105 (a name, not a secret)
    #: Token lifetime X; renew_after is X/2. At most 24 h.
    token_lifetime_seconds: int = Field(default=8 * 3600, ge=60, le=DAY)
    #: Absolute end of a session: renewal never extends a token past auth_time + this.
    session_max_seconds: int = Field(default=DAY, ge=60, le=DAY)
    #: How long the second step of a login may follow the password step.
    login_ttl_seconds: int = Field(default=300, ge=30, le=900)
    #: How many logins opened at their second factor each process keeps as it read them, so
    #: that their TOTP step is one database round trip (about 2 KB each; 0: none, the step
    #: reads its login itself, two round trips).
    opened_logins_kept: int = Field(default=4096, ge=0, le=1_000_000)
    #: Lifetime of the enrolment token a login at `next: enrol` gets, and of that login.
    enrolment_token_seconds: int = Field(default=900, ge=60, le=3600)
    # Argon2id, OWASP minimum: m=19 MiB, t=2, p=1.
    #: Argon2id memory cost of password hashes (19 MiB, with time cost 2 and parallelism 1: OWASP's
    #: minimum).
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8 * 1024)
    #: Argon2id time cost (passes).
    argon2_time_cost: int = Field(default=2, ge=1)
    #: Argon2id parallelism (lanes).
    argon2_parallelism: int = Field(default=1, ge=1)
    #: Threads hashing passwords off the event loop (0 = one per core).
    hash_workers: int = Field(default=0, ge=0)
    #: How much lower than the event loop the hashing threads run (a niceness added to each
    #: hashing thread; 0: the same). The loop answers every relying service's introspections
    #: and renewals; beside hashes at the same priority it waits for a core under a login
    #: storm (docs/performance.md: introspection beside 50 logins a second). Hashing still
    #: gets every core nothing else wants; on a saturated host logins slow first, and the hash
    #: queue's bounds above answer 503 ``hasher-busy``.
    hash_niceness: int = Field(default=10, ge=0, le=19)
    #: Hashes that may wait for a hashing thread; beyond that a login (or password change)
    #: is answered 503 ``hasher-busy`` instead of queueing without end. The queue is served
    #: oldest first; when it is full, a client address holding at least two places more than
    #: the newcomer's address gives up its newest place to it, else the newcomer is refused:
    #: one address flooding logins cannot keep others out.
    hash_max_waiting: int = Field(default=64, ge=0, le=10_000)
    #: The ``Retry-After`` of a ``hasher-busy`` answer.
    hash_busy_retry_seconds: int = Field(default=1, ge=1, le=60)
    #: A hash that has waited this long for a thread is answered 503 ``hasher-busy`` instead
    #: of run: its caller has given up or is about to (the SDK waits 5 s for a login), and
    #: hashing it late only delays the ones behind. A caller that says how long it will
    #: wait (``X-Request-Budget``, the SDK does) is dropped sooner when that is shorter.
    hash_max_wait_seconds: float = Field(default=4.0, gt=0, le=60)
    #: Requests per client address to the login endpoints (``POST /v1/login`` and its
    #: ``/password``, ``/challenge``, ``/verify`` steps) per window; beyond it 429
    #: ``too-many-requests`` with ``Retry-After``. A burst of this many, then refilled evenly.
    login_rate_attempts: int = Field(default=120, ge=1, le=100_000)
    #: The window of `TWEESTAP_LOGIN_RATE_ATTEMPTS`.
    login_rate_window_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    #: Client addresses whose budget is remembered (least recently seen forgotten first).
    login_rate_max_clients: int = Field(default=100_000, ge=1)
    #: A registered relying service, once found active, is believed for this long without
    #: asking the database again while the liveness state cannot prove it unchanged (not
    #: current, or turned off): a removed client is refused at the latest this long after.
    #: While it is current, a change is honoured within its bound instead. 0: otherwise ask
    #: every time.
    client_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    #: Introspection and renewal read a session's liveness (revocations, cutoffs, the
    #: directory) from a state each process keeps in memory, kept current by the database's
    #: LISTEN/NOTIFY, while it can prove it holds every change committed more than this many
    #: seconds ago (a heartbeat on its connection came back); otherwise they ask the database,
    #: as they do for anything the state does not hold (docs/adr/0015). 0: always the database.
    liveness_max_staleness_seconds: float = Field(default=0.5, ge=0, le=10)
    #: Renewals of a session queue a ``token.renewed`` event at most once per this many
    #: seconds of the session (nothing consumes the event; tweestap_tokens_total counts every
    #: renewal): a client renewing in a loop cannot flood the bus. 0: an event per renewal.
    renewal_event_seconds: int = Field(default=3600, ge=0, le=DAY)
    #: A zone's signing key is replaced after this many days.
    key_rotation_days: int = Field(default=30, ge=1)
    #: Private half of the deployment's trust key (``tweestap keygen --trust``): signs this
    #: zone's key announcements on ``sts.keys``. Only auth has it.
    trust_private_key: SecretStr = SecretStr("")
    #: A new signing key is published this long before it signs, so every zone knows it.
    key_publish_lead_seconds: int = Field(default=300, ge=0)
    #: Failed attempts older than this are forgotten (a lockout itself lasts the policy's time).
    failure_memory_hours: int = Field(default=24, ge=1)
    #: Clock skew tolerated when verifying tokens.
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    #: Verify of a login at the ``enrol`` step waits this long for the authenticator the
    #: enrolment wizard just confirmed to arrive (``factors`` topic) before 409.
    factor_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    #: Digits of an SMS or e-mail login code.
    otp_code_digits: int = Field(default=6, ge=6, le=10)
    #: How long an SMS or e-mail login code is valid.
    otp_code_seconds: int = Field(default=300, ge=1, le=900)
    #: At most this many SMS/e-mail login codes per employee per send window (per zone).
    otp_max_sends: int = Field(default=3, ge=1, le=100)
    #: The window over which login-code sends are counted.
    otp_send_window_seconds: int = Field(default=900, ge=1, le=24 * 3600)
    #: Wrong tries after which an SMS/e-mail login code is void.
    otp_max_attempts: int = Field(default=3, ge=1, le=10)

    #: The assurance level of each means a session can be made with, over the defaults (JSON
    #: object, e.g. ``{"password+sms": "low"}``; docs/adr/0012): ``password``,
    #: ``password+totp|sms|email|recovery|passkey|certificate``,
    #: ``password+passkey-certified``, ``dezi``, ``uzi-pas``, ``pkioverheid`` →
    #: ``low``, ``substantial`` or ``high``. A means the table does not name is ``low``.
    assurance_levels: dict[str, Level] = Field(default_factory=dict)
    #: OpenID Provider (docs/adr/0011): how long an ID token is valid (its ``exp``; the
    #: session it tells of lasts as long as its access and refresh tokens allow).
    oidc_id_token_seconds: int = Field(default=300, ge=60, le=3600)
    #: How often ended grants are looked for to send their clients a back-channel logout
    #: token (the longest a logout waits before the notifier has it).
    oidc_logout_sweep_seconds: float = Field(default=1.0, ge=0.1, le=60)
    #: How long a ``private_key_jwt`` client's key set (from its ``jwks_uri``) is used before
    #: it is fetched again; an assertion naming an unknown key fetches it at most once a
    #: minute.
    client_jwks_keep_seconds: int = Field(default=300, ge=0, le=86_400)
    #: How long fetching a client's key set may take.
    client_jwks_timeout_seconds: float = Field(default=5.0, ge=0.1, le=30)

    #: How long the nonce of a certificate fallback challenge may be signed.
    fallback_challenge_seconds: int = Field(default=300, ge=10, le=900)

    @property
    def levels(self) -> dict[str, Level]:
        """The means → level table: the defaults with ``assurance_levels`` over them."""
        return assurance.table(self.assurance_levels)

    @model_validator(mode="after")
    def _lifetime_within_session(self) -> AuthSettings:
        if self.token_lifetime_seconds > self.session_max_seconds:
            raise ValueError("token_lifetime_seconds may not exceed session_max_seconds")
        return self
