"""A login with a UZI-pas or a PKIoverheid certificate, a means of its own at level hoog
(ADR 0013): the certificate checked (validity, key usage, chain, revocation), then the person
it names found (the practice's URA, the employee's recorded UZI number), then the session
(:class:`MeansLogin`).

Possession of the card's key is proven one of two ways: in a browser by client-certificate TLS
at the deployment's terminator, which the web front door vouches for in a sealed statement
(:mod:`shared.card_statement`); by other clients (practice software) by signing a nonce this
zone handed out, as the certificate fallback does (:mod:`services.auth.domain.fallback`)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.auth.adapters import card_logins, dezi_links
from services.auth.adapters.card_revocation import RevocationChecker
from services.auth.api import TokenResponse
from services.auth.api_cards import CardChallengeResponse
from services.auth.domain import card_chain, card_holder, card_revocation, fallback
from services.auth.domain.card_chain import CardRefused, CheckedCard, TrustStore
from services.auth.use_cases.means_login import MeansLogin
from shared import card_statement
from shared.assurance import Level
from shared.events import utcnow
from shared.problems import Problem
from shared.sealing import Keyring

log = logging.getLogger(__name__)

#: The nonce's prefix: a signature made for a card login is never one over anything else.
NONCE_PREFIX = "tweestap-card-v1:"
#: RFC 8176 method references: a smart card (its key in hardware, used after its PIN); a
#: server certificate's key is in software.
AMR_PASS: tuple[str, ...] = ("sc", "hwk", "pin")
AMR_SERVER: tuple[str, ...] = ("swk",)
#: HTTP status of each refusal of a certificate.
_STATUS = {
    "unreadable-certificate": 422,
    "certificate-expired": 401,
    "certificate-not-yet-valid": 401,
    "wrong-key-usage": 401,
    "untrusted-certificate": 401,
    "malformed-certificate": 401,
    "certificate-revoked": 401,
    "revocation-unavailable": 503,
    "card-wrong-organisation": 403,
    "card-not-linked": 403,
    "card-ambiguous": 409,
}
_TITLES = {
    "unreadable-certificate": "Certificate not readable",
    "certificate-expired": "Certificate expired",
    "certificate-not-yet-valid": "Certificate not valid yet",
    "wrong-key-usage": "Certificate not for logging in",
    "untrusted-certificate": "Certificate not trusted",
    "malformed-certificate": "Certificate not of the UZI profile",
    "certificate-revoked": "Certificate revoked",
    "revocation-unavailable": "Revocation status unknown",
    "card-wrong-organisation": "Card of another organisation",
    "card-not-linked": "Card not linked",
    "card-ambiguous": "Which practice?",
}


def refused(error: CardRefused) -> Problem:
    status = _STATUS.get(error.slug, 401)
    title = _TITLES.get(error.slug, "Certificate refused")
    if status == 503:
        return Problem(status, error.slug, title, error.detail, retry_after=30)
    return Problem(status, error.slug, title, error.detail)


def off() -> Problem:
    return Problem(
        422,
        "means-not-available",
        "Certificate logins are off",
        "This deployment has no trust store for UZI-pas or PKIoverheid certificates.",
    )


@dataclass(frozen=True)
class CardChecks:
    """Everything a certificate must pass, revocation included."""

    store: TrustStore
    revocation: RevocationChecker
    unavailable: Literal["refuse", "accept"]

    async def check(self, certificate_pem: str, now: datetime) -> CheckedCard:
        """The card (first in ``certificate_pem``, any intermediates after it) checked."""
        found = card_chain.read_pem(certificate_pem)
        checked = card_chain.check(found[0], found[1:], self.store, now)
        for cert, issuer in checked.links:
            is_card = cert is checked.certificate
            # A CA certificate of the trust store is the operator's choice: checked when it
            # names where to ask, never refused for naming nothing. A card must be checkable.
            outcome = await self.revocation.outcome(cert, issuer)
            if outcome.verdict == "revoked":
                raise CardRefused(
                    "certificate-revoked",
                    "The certificate has been revoked."
                    if is_card
                    else "A CA of the certificate's chain has been revoked.",
                )
            if outcome.verdict == "unavailable" and (is_card or _names_a_source(cert)):
                if self.unavailable == "refuse":
                    raise CardRefused(
                        "revocation-unavailable",
                        "Neither the OCSP responder nor the CRL of the certificate answered; "
                        "try again later.",
                    )
                log.warning(
                    "card %s accepted without a revocation answer "
                    "(TWEESTAP_CARD_REVOCATION_UNAVAILABLE=accept)",
                    checked.fingerprint[:16],
                )
        return checked


def _names_a_source(cert: x509.Certificate) -> bool:
    return bool(card_revocation.ocsp_urls(cert) or card_revocation.crl_urls(cert))


@dataclass(frozen=True)
class CardLogin:
    """The card login's calls: a challenge for practice software, then its signature; or the
    web front door's statement for a browser."""

    pool: asyncpg.Pool
    checks: CardChecks
    means: MeansLogin
    #: The web's statement keyring (None: no browser card logins).
    statements: Keyring | None
    statement_seconds: int
    challenge_seconds: int

    async def challenge(self, practice: str | None) -> CardChallengeResponse:
        """A nonce to sign with the card's key, valid ``challenge_seconds``, once."""
        now = utcnow()
        challenge_id = secrets.token_urlsafe(24)
        nonce = NONCE_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + timedelta(seconds=self.challenge_seconds)
        async with self.pool.acquire() as conn:
            await card_logins.add_challenge(conn, challenge_id, practice, nonce, now, expires_at)
        return CardChallengeResponse(challenge=challenge_id, nonce=nonce, expires_at=expires_at)

    async def with_signature(
        self,
        practice: str | None,
        challenge_id: str,
        certificate_pem: str,
        signature: str,
        level: Level | None = None,
    ) -> TokenResponse:
        """The challenge's nonce signed with the key of the card in ``certificate_pem``."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            found = await card_logins.take_challenge(conn, challenge_id)
        if found is None or found["used"] or found["practice"] != practice:
            raise Problem(
                409, "challenge-required", "Challenge required", "Ask for a challenge first."
            )
        if found["expires_at"] <= now:
            raise Problem(401, "challenge-expired", "Challenge expired", "Ask for a new one.")
        checked = await self._checked(certificate_pem, now)
        raw = fallback.decode_signature(signature)
        card_pem = checked.certificate.public_bytes(serialization.Encoding.PEM).decode()
        if raw is None or not fallback.signature_valid(card_pem, found["nonce"].encode(), raw):
            raise Problem(
                401,
                "invalid-signature",
                "Signature not valid",
                "The signature does not verify with the certificate's key.",
            )
        return await self._complete(practice, checked, level)

    async def with_statement(
        self, practice: str | None, sealed: str, level: Level | None = None
    ) -> TokenResponse:
        """The web front door's statement that a browser presented the card (ADR 0013)."""
        if self.statements is None:
            raise Problem(
                422,
                "means-not-available",
                "Browser card logins are off",
                "No card statement keyring is configured (TWEESTAP_CARD_STATEMENT_KEYS).",
            )
        now = utcnow()
        try:
            statement = card_statement.open_statement(
                self.statements, sealed, now.timestamp(), self.statement_seconds
            )
        except card_statement.StatementRefused as error:
            log.warning("card statement refused: %s", error)
            raise Problem(
                401,
                "invalid-statement",
                "Statement not valid",
                "This is not a current statement of the web front door.",
            ) from None
        if statement.practice != practice:
            raise Problem(401, "invalid-statement", "Statement not valid", "Another practice's.")
        checked = await self._checked(statement.certificate, now)
        until = now + timedelta(seconds=self.statement_seconds + 60)
        async with self.pool.acquire() as conn:
            if not await card_logins.spend_statement(conn, statement.id, until, now):
                raise Problem(
                    401, "invalid-statement", "Statement not valid", "This statement was used."
                )
        return await self._complete(practice, checked, level)

    async def _checked(self, certificate_pem: str, now: datetime) -> CheckedCard:
        try:
            return await self.checks.check(certificate_pem, now)
        except CardRefused as error:
            log.info("card refused: %s", error.slug)
            raise refused(error) from None

    async def _complete(
        self, practice: str | None, checked: CheckedCard, level: Level | None
    ) -> TokenResponse:
        identity = checked.identity
        async with self.pool.acquire() as conn:
            linked = await dezi_links.linked(conn, identity.uzi_number)
        try:
            holder = card_holder.choose(linked, identity.ura, practice)
        except card_holder.NotAllowed as error:
            raise refused(CardRefused(error.slug, error.detail)) from None
        amr = AMR_PASS if identity.is_pass else AMR_SERVER
        roles = (identity.role,) if identity.role != "00.000" else ()
        return await self.means.complete(
            holder.practice, holder.employee, checked.means, amr, asked_level=level, roles=roles
        )
