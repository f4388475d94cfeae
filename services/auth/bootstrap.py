"""The one place that builds auth: its adapters over the settings and the pool, then each use
case given only what it uses. The HTTP and Kafka entry points and the commands reach the use
cases through the one :class:`Auth`; no use case receives :class:`Adapters`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.auth import consumers
from services.auth.adapters.accounts import Accounts
from services.auth.adapters.client_keys import ClientKeys
from services.auth.adapters.hasher import Hasher
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.notices import Notices
from services.auth.adapters.signer import Signer
from services.auth.domain import tokens
from services.auth.factors import registry
from services.auth.factors.tools import StepTools
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from services.auth.use_cases.account_admin import AccountAdmin
from services.auth.use_cases.attempts import Attempts
from services.auth.use_cases.authorizations import Authorizations
from services.auth.use_cases.backchannel import BackchannelLogouts
from services.auth.use_cases.client_auth import ClientAuthentication
from services.auth.use_cases.clients import Clients
from services.auth.use_cases.first_practice import FirstPractice
from services.auth.use_cases.grant_revocation import GrantRevocation
from services.auth.use_cases.grants import Grants
from services.auth.use_cases.housekeeping import Housekeeping, Maintenance
from services.auth.use_cases.id_tokens import IdTokens
from services.auth.use_cases.keys import Keys
from services.auth.use_cases.login_steps import LoginSteps
from services.auth.use_cases.means_login import MeansLogin
from services.auth.use_cases.opened_logins import OpenedLogins
from services.auth.use_cases.own_sessions import OwnSessions
from services.auth.use_cases.password_login import ChangePasswordAtLogin, PasswordLogin
from services.auth.use_cases.passwords import (
    ChangeOwnPassword,
    ReuseCheck,
    SetPassword,
    StorePassword,
)
from services.auth.use_cases.second_step import SecondStep
from services.auth.use_cases.token_endpoint import TokenEndpoint
from services.auth.use_cases.tokens import Introspecting, Issuing, Renewing, Revoking
from services.auth.use_cases.userinfo import Userinfo
from shared.consumer import EventConsumer
from shared.db import create_pool
from shared.gate import TokenGate
from shared.liveness import Liveness
from shared.outbox import EventWriter
from shared.sealing import Keyring
from shared.topics import DEAD_LETTERS

#: How often keys are checked for rotation and old rows forgotten.
MAINTENANCE_SECONDS = 300


@dataclass(frozen=True)
class Adapters:
    """What auth is built from, and what the entry points (and tests) reach directly: the
    pool, the signer, the session gate; the hasher to close at the end."""

    settings: AuthSettings
    pool: asyncpg.Pool
    keyring: Keyring
    hasher: Hasher
    signer: Signer
    metrics: AuthMetrics
    events: EventWriter
    gate: TokenGate


def build_adapters(
    settings: AuthSettings, pool: asyncpg.Pool, metrics: AuthMetrics, hash_workers: int
) -> Adapters:
    """The adapters over ``pool``; ``hash_workers``: the hashing threads (0: one per core)."""
    signer = Signer(settings.token_cache_size)
    hasher = Hasher(
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
        hash_workers,
        settings.hash_max_waiting,
        settings.hash_busy_retry_seconds,
        cpu_spent=metrics.hash_cpu.labels(**metrics.base()).inc,
        max_wait_seconds=settings.hash_max_wait_seconds,
        niceness=settings.hash_niceness,
        ipv6_prefix=settings.rate_limit_ipv6_prefix,
    )
    # Introspection answers the username, an application's grant the person's name and
    # e-mail (ID token, userinfo): read with the session's state.
    columns = ("username", "name", "email")
    gate = TokenGate(
        signer,
        pool,
        settings.issuer,
        settings.token_audience,
        settings.leeway_seconds,
        columns=columns,
        liveness=liveness(settings, columns),
    )
    keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
    return Adapters(settings, pool, keyring, hasher, signer, metrics, EventWriter(settings), gate)


def liveness(settings: AuthSettings, columns: tuple[str, ...]) -> Liveness | None:
    """The session state in memory (not listening until its ``run`` is started: until then
    the database answers); None when TWEESTAP_LIVENESS_MAX_STALENESS_SECONDS is 0."""
    if settings.liveness_max_staleness_seconds <= 0:
        return None

    async def connect() -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(settings.database_url)
        return conn

    return Liveness(connect, columns, settings.liveness_max_staleness_seconds)


@dataclass(frozen=True)
class Auth:
    """Auth's use cases, wired."""

    login: PasswordLogin
    change_password_at_login: ChangePasswordAtLogin
    second_step: SecondStep
    renewing: Renewing
    revoking: Revoking
    introspecting: Introspecting
    change_own_password: ChangeOwnPassword
    set_password: SetPassword
    #: The administrator's account tasks: state, unlock, end sessions (issue 25).
    account_admin: AccountAdmin
    #: The employee's "log out everywhere" (issue 25).
    own_sessions: OwnSessions
    passwords: StorePassword
    first_practice: FirstPractice
    accounts: Accounts
    clients: Clients
    keys: Keys
    housekeeping: Housekeeping
    maintenance: Maintenance
    #: The OpenID Provider (docs/adr/0011).
    oidc: Provider
    #: Logins completed by a means of their own: Dezi, UZI-pas, PKIoverheid (ADR 0012).
    means_login: MeansLogin


@dataclass(frozen=True)
class Provider:
    """The OpenID Provider's use cases, and the client key sets they fetch (closed at the
    end)."""

    authorizations: Authorizations
    token_endpoint: TokenEndpoint
    userinfo: Userinfo
    revocation: GrantRevocation
    backchannel: BackchannelLogouts
    client_keys: ClientKeys


def _lifetimes(settings: AuthSettings) -> tokens.Lifetimes:
    return tokens.Lifetimes(
        token=timedelta(seconds=settings.token_lifetime_seconds),
        session_max=timedelta(seconds=settings.session_max_seconds),
    )


def _grants(settings: AuthSettings, signer: Signer) -> Grants:
    return Grants(
        signer,
        _lifetimes(settings),
        settings.issuer,
        settings.zone,
        settings.token_audience,
        settings.token_client_id,
    )


def build_clients(
    settings: AuthSettings, pool: asyncpg.Pool, keyring: Keyring, liveness: Liveness | None = None
) -> Clients:
    return Clients(
        pool,
        keyring,
        EventWriter(settings),
        settings.zone,
        settings.client_cache_seconds,
        liveness,
    )


def _second_step(
    a: Adapters, attempts: Attempts, grants: Grants, opened: OpenedLogins
) -> SecondStep:
    """The login's second step over every factor the registry knows."""
    s, pool = a.settings, a.pool
    tools = StepTools(a.keyring, attempts, grants, a.events, a.settings.levels)
    notices = Notices(s, a.keyring)
    methods = registry.default(tools, pool, s, a.keyring, a.events, notices, a.metrics)
    return SecondStep(pool, attempts, methods, a.metrics, s.factor_wait_seconds, opened)


def _housekeeping(settings: AuthSettings, pool: asyncpg.Pool) -> Housekeeping:
    return Housekeeping(
        pool,
        retention=timedelta(milliseconds=settings.topics.retention_ms),
        failure_memory=timedelta(hours=settings.failure_memory_hours),
        code_window=timedelta(seconds=settings.otp_send_window_seconds),
        session_max=_lifetimes(settings).session_max,
    )


def _provider(
    a: Adapters, clients: Clients, grants: Grants, issuing: Issuing, revoking: Revoking
) -> Provider:
    s = a.settings
    base = s.issuer.rstrip("/")
    keys = ClientKeys(s.client_jwks_keep_seconds, 60.0, s.client_jwks_timeout_seconds)
    client_auth = ClientAuthentication(
        clients, keys, (s.issuer, base + "/token", base + "/par"), s.leeway_seconds
    )
    id_tokens = IdTokens(a.signer, s.issuer, timedelta(seconds=s.oidc_id_token_seconds))
    return Provider(
        authorizations=Authorizations(
            a.gate, clients, client_auth, a.keyring, a.signer, s.issuer, s.leeway_seconds
        ),
        token_endpoint=TokenEndpoint(
            a.pool,
            a.keyring,
            a.gate,
            grants,
            issuing,
            revoking,
            id_tokens,
            client_auth,
            a.events,
            a.metrics,
            s.zone,
        ),
        userinfo=Userinfo(a.gate),
        revocation=GrantRevocation(a.pool, a.keyring, a.gate, client_auth, revoking),
        backchannel=BackchannelLogouts(
            a.pool,
            clients,
            a.signer,
            a.keyring,
            s,
            s.issuer,
            a.metrics,
            s.oidc_logout_sweep_seconds,
        ),
        client_keys=keys,
    )


def compose(a: Adapters) -> Auth:
    s, pool, events, metrics = a.settings, a.pool, a.events, a.metrics
    grants = _grants(s, a.signer)
    accounts = Accounts(a.keyring)
    attempts = Attempts(pool, events, metrics, s.zone)
    issuing = Issuing(grants, events, metrics)
    passwords = StorePassword(
        pool, a.hasher, accounts, ReuseCheck(attempts, a.hasher), events, metrics, s.zone
    )
    opened = OpenedLogins(s.opened_logins_kept)
    steps = LoginSteps(
        pool,
        issuing,
        grants,
        events,
        login_ttl=timedelta(seconds=s.login_ttl_seconds),
        enrolment_ttl=timedelta(seconds=s.enrolment_token_seconds),
        levels=s.levels,
        opened=opened,
    )
    keys = Keys(pool, KeyStore(s, a.keyring), a.signer)
    forgetting = _housekeeping(s, pool)
    clients = build_clients(s, pool, a.keyring, a.gate.liveness)
    revoking = Revoking(a.gate, pool, events, grants.lifetimes, metrics)
    return Auth(
        login=PasswordLogin(pool, accounts, attempts, a.hasher, steps, metrics),
        change_password_at_login=ChangePasswordAtLogin(pool, accounts, passwords, steps),
        second_step=_second_step(a, attempts, grants, opened),
        renewing=Renewing(
            a.gate, pool, grants, events, metrics, timedelta(seconds=s.renewal_event_seconds)
        ),
        revoking=revoking,
        introspecting=Introspecting(a.gate),
        change_own_password=ChangeOwnPassword(
            pool, accounts, attempts, a.hasher, passwords, issuing
        ),
        set_password=SetPassword(pool, accounts, passwords),
        account_admin=AccountAdmin(pool, events),
        own_sessions=OwnSessions(pool, events),
        passwords=passwords,
        first_practice=FirstPractice(pool, a.keyring, events, passwords, s.zone),
        accounts=accounts,
        clients=clients,
        keys=keys,
        housekeeping=forgetting,
        maintenance=Maintenance(keys, forgetting, MAINTENANCE_SECONDS),
        oidc=_provider(a, clients, grants, issuing, revoking),
        means_login=MeansLogin(pool, issuing, steps, s.levels),
    )


def consumer(a: Adapters) -> EventConsumer:
    """Auth's Kafka entry points, one consumer over every topic it applies."""
    return EventConsumer(
        a.settings,
        a.pool,
        a.metrics,
        "auth",
        consumers.handlers(a.settings, a.signer),
        consumers.accept(a.settings),
        dead_letter_topic=DEAD_LETTERS,
    )


@asynccontextmanager
async def offline(settings: AuthSettings) -> AsyncIterator[tuple[Adapters, Auth]]:
    """Auth over ``settings``' database in this process, outside a running service (the
    commands, ``tweestap dev``'s reset): a small pool, one hashing thread."""
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        built = build_adapters(settings, pool, AuthMetrics(settings.zone), hash_workers=1)
        try:
            yield built, compose(built)
        finally:
            built.hasher.close()
    finally:
        await pool.close()
