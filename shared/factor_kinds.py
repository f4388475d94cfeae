"""The kinds of second factor, each described once (STYLE "One spec per kind"): what it counts
as in a token (RFC 8176 ``amr``), whether it is strong, where a login offers it, how a person
answers it, whether a login asks for a challenge first, and its names. Everything that must
know the kinds (the events' schemas, the login's offer and validation, the API, the
consumers, the web's pages) reads them here; a factor's own behaviour lives in its modules
(``services/auth/factors/<kind>.py``, ``services/enrolment/factors/<kind>.py``).

Adding a kind is a line in :data:`SPECS`, its two modules, a migration and a line in each
service's factor registry (``tests/unit/test_factor_kinds.py`` keeps other lists of kinds from
coming back). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from shared.text import Text

#: How a person answers the factor at login: a typed code, a WebAuthn assertion (a passkey),
#: or a signature made by the practice software with a certificate's key.
Answer = Literal["code", "assertion", "signature"]


@dataclass(frozen=True)
class FactorSpec:
    kind: str
    #: RFC 8176 method reference in a token's ``amr`` (after ``pwd``).
    amr: str
    #: Something the employee has that a message cannot be phished from (an authenticator,
    #: a passkey). A login offers nothing without one (it goes to the enrolment wizard).
    strong: bool
    #: Where a login offers it: lower first (strongest first, the way back in last).
    order: int
    answer: Answer
    #: Whether the login asks auth for a challenge before the answer (a code sent, passkey
    #: options, a nonce to sign).
    challenge: bool
    #: The name a person reads, per locale.
    labels: Mapping[str, str]
    #: Offered and enrolled only beside a strong factor (SMS and e-mail are weak, DESIGN §1).
    beside_strong: bool = False
    #: A credential the employee enrols (on ``factors``); False: a login means without one.
    enrolled: bool = True
    #: The factor the enrolment wizard sets up: having it means the wizard is done.
    wizard: bool = False


SPECS: tuple[FactorSpec, ...] = (
    FactorSpec(
        "passkey",
        amr="hwk",
        strong=True,
        order=0,
        answer="assertion",
        challenge=True,
        labels={
            "nl": "Passkey (beveiligingssleutel of apparaat)",
            "en": "Passkey (security key or device)",
        },
    ),
    FactorSpec(
        "totp",
        amr="otp",
        strong=True,
        order=1,
        answer="code",
        challenge=False,
        labels={"nl": "Code uit de authenticator-app", "en": "Code from the authenticator app"},
        wizard=True,
    ),
    FactorSpec(
        "sms",
        amr="sms",
        strong=False,
        order=2,
        answer="code",
        challenge=True,
        labels={"nl": "Code per sms", "en": "Code by text message"},
        beside_strong=True,
    ),
    FactorSpec(
        "email",
        amr="email",
        strong=False,
        order=3,
        answer="code",
        challenge=True,
        labels={"nl": "Code per e-mail", "en": "Code by e-mail"},
        beside_strong=True,
    ),
    FactorSpec(
        "recovery",
        amr="rec",
        strong=False,
        order=4,
        answer="code",
        challenge=False,
        labels={"nl": "Herstelcode", "en": "Recovery code"},
    ),
    FactorSpec(
        "certificate",
        amr="x509",
        strong=False,
        order=5,
        answer="signature",
        challenge=True,
        labels={"nl": "Certificaat (UZI-pas)", "en": "Certificate (UZI card)"},
        enrolled=False,
    ),
)

KINDS: Mapping[str, FactorSpec] = {spec.kind: spec for spec in SPECS}
#: Every kind a login may be completed with, in the order a login offers them.
ORDER: tuple[str, ...] = tuple(spec.kind for spec in sorted(SPECS, key=lambda s: s.order))
#: The kinds an employee enrols (credentials on ``factors``), in that order.
ENROLLED: tuple[str, ...] = tuple(kind for kind in ORDER if KINDS[kind].enrolled)
STRONG: frozenset[str] = frozenset(spec.kind for spec in SPECS if spec.strong)
#: The kinds whose login step starts with a challenge.
CHALLENGED: tuple[str, ...] = tuple(kind for kind in ORDER if KINDS[kind].challenge)


def spec(kind: str) -> FactorSpec:
    """The spec of ``kind`` (KeyError for an unknown one)."""
    return KINDS[kind]


def amr_of(kind: str) -> str:
    return KINDS[kind].amr


def is_strong(kind: str) -> bool:
    found = KINDS.get(kind)
    return found is not None and found.strong


def label(kind: str, locale: str) -> str:
    found = KINDS.get(kind)
    return found.labels.get(locale, found.labels["en"]) if found else kind


def _one_of(kinds: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in kinds:
            raise ValueError(f"must be one of {', '.join(kinds)}")
        return value

    return AfterValidator(check)


def _listed(kinds: tuple[str, ...]) -> Any:
    """Bounded to the longest of ``kinds``, which the JSON schema lists."""
    return Field(max_length=max(len(k) for k in kinds), json_schema_extra={"enum": list(kinds)})


#: An enrolled factor's kind, validated against the specs.
FactorKind = Annotated[Text, _listed(ENROLLED), _one_of(ENROLLED)]
#: Any kind a login's verify accepts.
LoginFactor = Annotated[Text, _listed(ORDER), _one_of(ORDER)]
#: A kind whose login step starts with a challenge.
ChallengedFactor = Annotated[Text, _listed(CHALLENGED), _one_of(CHALLENGED)]
