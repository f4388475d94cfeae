"""Second factors at login, one module per factor and one shape (cf. Ory Kratos'
``selfservice/strategy/*``): each says where it may be used, what it counts as (``amr``, RFC
8176), how strong it is, its challenge (if any) and its verify. :class:`Registry` holds them;
the second step (:mod:`services.auth.use_cases.second_step`) composes the registry, so adding
a factor is adding a module and registering it in :mod:`services.auth.factors.registry`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.api import ChallengeResponse, TokenResponse, VerifyRequest
from services.auth.domain import tokens
from shared.events import Envelope, FactorCredential
from shared.problems import Problem
from shared.topics import Topic

#: Where a login may take its second factor: after the password, or after enrolling.
SECOND_STAGES = ("second_factor", "enrol")
#: Metric outcomes of second-factor verifications that end in a problem.
OUTCOMES = {
    "invalid-code": "invalid",
    "code-already-used": "replayed",
    "code-expired": "expired",
    "account-locked": "locked",
    "account-disabled": "disabled",
}


class Wait:
    """The answer of a factor at the enrol step whose authenticator has not arrived yet."""


WAIT = Wait()


@dataclass
class Passed:
    """A second factor that checked out: its ``amr`` and what the login's completion must also
    write (events, notifications), plus a new recovery code to hand out once."""

    #: The factor kind (shared/factor_kinds.py): with the password, the session's means and
    #: so its level (shared/assurance.py).
    kind: str
    #: RFC 8176 method references after ``pwd``.
    amr: tuple[str, ...]
    events: list[tuple[Topic, Envelope]] = field(default_factory=list)
    recovery_code: str | None = None
    #: ``aal2``, or ``aal2-fallback`` for the certificate fallback (a 12-hour session).
    aal: str = tokens.TWO_FACTOR_AAL
    #: A passkey of an authenticator model the deployment lists as certified.
    certified: bool = False
    #: Added to ``login.succeeded`` (a passkey: which one, whether the user was verified).
    detail: dict[str, Any] = field(default_factory=dict)
    #: What the statement completing the login spends with it (a TOTP step), if anything.
    spend: repo.Spend | None = None


Outcome = TokenResponse | Problem | Wait


class Method(Protocol):
    """One second factor. ``verify`` runs in the caller's transaction with the login row
    locked, the username's attempts serialised and the lockout and the account checked; it
    records its own failed attempts and completes the login (through the step tools) once.
    ``verify_seen``, asked first where ``as_seen``, only ever completes a login (guarded by
    the row it read), never refuses one."""

    #: The factor kinds this method answers for (``sms`` and ``email`` share one module).
    kinds: ClassVar[tuple[str, ...]]
    #: The login stages where it may be used.
    stages: ClassVar[tuple[str, ...]]
    #: Whether it completes a login at its ``enrol`` step (the authenticator just enrolled).
    completes_enrolment: ClassVar[bool]
    #: Metric outcome per problem slug.
    outcomes: ClassVar[Mapping[str, str]]
    #: Whether :meth:`verify_seen` may complete a login (else it is never asked).
    as_seen: ClassVar[bool]

    async def challenge(self, kind: str, login_id: str) -> ChallengeResponse:
        """What the person needs to answer (a code sent, a nonce, options); 400
        ``factor-not-available`` for a factor without one."""
        ...

    async def verify(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> Outcome: ...

    async def verify_seen(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> TokenResponse | None:
        """The login completed in one call from ``step`` as read without its locks, guarded
        by what was read; None whenever the locked :meth:`verify` must decide (the answer of
        most factors, always)."""
        ...

    def observed(self, kind: str, outcome: str) -> None:
        """Count ``outcome`` of a verify (the second-factor metric is counted by the step)."""
        ...


class Registry:
    """The login's second factors by kind."""

    def __init__(self, methods: Iterable[Method]) -> None:
        self._by_kind = {kind: method for method in methods for kind in method.kinds}

    def get(self, kind: str) -> Method | None:
        return self._by_kind.get(kind)

    def completing_enrolment(self) -> tuple[str, ...]:
        """The kinds whose new factor completes a login waiting at its ``enrol`` step."""
        return tuple(k for k, m in self._by_kind.items() if m.completes_enrolment)


#: A handler of replicated state: an event of the other zone (``auth.events``), or a factor
#: credential (``factors``), in the consumer's transaction.
Replicated = Callable[[asyncpg.Connection, Envelope], Awaitable[None]]
CredentialHook = Callable[[asyncpg.Connection, str, FactorCredential], Awaitable[None]]


@dataclass(frozen=True)
class FactorModule:
    """How the state a factor spends replicates from the other zone: the ``auth.events``
    types it applies, and what it keeps of a factor credential beside the credential itself.
    Its login method is built with what it uses in :func:`registry.default`."""

    replicated: Mapping[str, Replicated] = field(default_factory=dict)
    on_credential: CredentialHook | None = None
