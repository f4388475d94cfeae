"""Passkeys (WebAuthn, py_webauthn): an employee who completed the wizard registers one —
options with a single-use challenge, then the authenticator's answer, verified for origin, RP
ID and user presence. Several passkeys may be active (a phone and a security key); each is
published sealed on ``factors`` like every other factor, so auth in both zones can check it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from webauthn import (
    base64url_to_bytes,
    generate_registration_options,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.api import PasskeyOptions, PasskeyRegistration, PasskeyView
from services.enrolment.domain import passkey as rules
from services.enrolment.factors import EnrolledFactor
from services.enrolment.factors.changes import FactorChanges
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.owner import has_totp, lock_owner
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.use_cases.access import Access
from shared.events import utcnow

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
WIZARD_FIRST = "A passkey can be added once the authenticator app is set up (the wizard)."
REFUSALS = {
    "unknown-registration": "No such registration for you; ask for new options.",
    "registration-used": "This registration was answered already; ask for new options.",
    "registration-expired": "The registration expired; ask for new options.",
}
#: Transports as WebAuthn names them (an unknown one is dropped, as browsers do).
TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


def details(body: dict[str, Any]) -> dict[str, Any]:
    """What the employee's list shows of a passkey: its name."""
    return {"name": body.get("name")}


#: Passkeys stand beside each other (a phone and a security key), each with its name.
FACTOR = EnrolledFactor(("passkey",), details, replaces_same_kind=False, named=True)


@dataclass
class Passkeys:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    #: Keys the opaque WebAuthn user handle (:func:`rules.user_handle`).
    handle_key: bytes
    access: Access
    credentials: Credentials
    changes: FactorChanges
    metrics: EnrolmentMetrics

    async def options(self, token: str) -> PasskeyOptions:
        """Creation options for the browser, with a challenge kept for
        ``webauthn_challenge_seconds``; the employee's passkeys are excluded (one per
        authenticator)."""
        claims = await self.access.factor_change(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            employee, _ = await lock_owner(conn, practice_id, employee_id)
            factors = await repo.active_factors(conn, practice_id, employee_id)
            if not has_totp(factors):
                raise problems.strong_factor_required(WIZARD_FIRST)
            registered = [self.credentials.open(f) for f in factors if f.kind == "passkey"]
            options = generate_registration_options(
                rp_id=self.settings.webauthn_rp_id,
                rp_name=self.settings.webauthn_rp_name,
                user_name=employee.username,
                user_id=rules.user_handle(self.handle_key, practice_id, employee_id),
                user_display_name=employee.name,
                timeout=self.settings.webauthn_challenge_seconds * 1000,
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.PREFERRED,
                    user_verification=UserVerificationRequirement.PREFERRED,
                ),
                exclude_credentials=[_descriptor(body) for body in registered],
                supported_pub_key_algs=ALGORITHMS,
            )
            registration_id = uuid.uuid4().hex
            expires_at = now + timedelta(seconds=self.settings.webauthn_challenge_seconds)
            await repo.add_passkey_registration(
                conn, registration_id, practice_id, employee_id, options.challenge, now, expires_at
            )
        self.metrics.step("passkey-options", "sent")
        return PasskeyOptions(
            registration_id=registration_id, options=options_to_json_dict(options)
        )

    async def register(self, token: str, body: PasskeyRegistration) -> PasskeyView:
        """Verify the authenticator's answer and activate the passkey. The challenge is spent
        first, in its own transaction: a refused answer uses it up too."""
        claims = await self.access.factor_change(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn:
            registration = await repo.spend_passkey_registration(
                conn, body.registration_id, practice_id, employee_id, now
            )
        refusal = rules.registration_refusal(registration, now)
        if refusal is not None:
            self.metrics.step("passkey-register", refusal)
            raise problems.passkey_refused(refusal, REFUSALS[refusal])
        assert registration is not None
        verified = self._verify(body, registration.challenge)
        transports = [t for t in body.credential.response.transports or () if t in TRANSPORTS]
        credential = rules.credential_body(
            verified.credential_id,
            verified.credential_public_key,
            verified.sign_count,
            transports,
            verified.user_verified,
            body.name,
        )
        factor_id = f"passkey.{uuid.uuid4().hex[:16]}"
        async with self.pool.acquire() as conn, conn.transaction():
            await self._activate(conn, claims, factor_id, credential, now)
        self.metrics.step("passkey-register", "enrolled")
        self.metrics.factor("passkey", "enrolled")
        return PasskeyView(factor_id=factor_id, name=credential["name"], created_at=now)

    def _verify(self, body: PasskeyRegistration, challenge: bytes) -> VerifiedRegistration:
        try:
            return verify_registration_response(
                credential=body.credential.model_dump(exclude_none=True),
                expected_challenge=challenge,
                expected_rp_id=self.settings.webauthn_rp_id,
                expected_origin=self.settings.webauthn_origins,
                require_user_presence=True,
                supported_pub_key_algs=ALGORITHMS,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as exc:
            # py_webauthn's messages name the check that failed, never key material.
            self.metrics.step("passkey-register", "invalid")
            message = str(exc) if isinstance(exc, WebAuthnException) else "malformed"
            raise problems.passkey_refused(
                "verification-failed", f"The authenticator's answer was not accepted: {message}."
            ) from None

    async def _activate(
        self,
        conn: asyncpg.Connection,
        claims: dict[str, Any],
        factor_id: str,
        credential: dict[str, Any],
        now: datetime,
    ) -> None:
        practice_id, employee_id = claims["practice"], claims["sub"]
        await lock_owner(conn, practice_id, employee_id)
        factors = await repo.active_factors(conn, practice_id, employee_id)
        if not has_totp(factors):
            raise problems.strong_factor_required(WIZARD_FIRST)
        if any(
            f.kind == "passkey"
            and self.credentials.open(f)["credential_id"] == credential["credential_id"]
            for f in factors
        ):
            raise problems.passkey_refused(
                "already-registered", "This passkey is registered already."
            )
        sealed = self.credentials.seal(practice_id, employee_id, factor_id, credential)
        await self.credentials.add(
            conn, practice_id, employee_id, factor_id, "passkey", sealed, now
        )
        await self.changes.enrolled(
            conn, claims, factor_id, "passkey", [], now, user_verified=credential["user_verified"]
        )


def _descriptor(body: dict[str, Any]) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(body["credential_id"]),
        transports=[
            AuthenticatorTransport(t) for t in body.get("transports", ()) if t in TRANSPORTS
        ],
    )
