"""Passkeys (WebAuthn) at login, with py_webauthn: offered first when the employee has one; the
challenge hands out request options (allowCredentials = the employee's passkeys, user
verification preferred) and stores the challenge for the login, single use, for
``webauthn_challenge_seconds``; the verify checks challenge, origin, RP ID, user presence and
a signature counter that goes forward, and records whether the user was verified. A refused
assertion is a failed second factor like a wrong code."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import asyncpg
from webauthn import (
    generate_authentication_options,
    options_to_json,
    verify_authentication_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from services.auth import problems
from services.auth.adapters import passkeys as store
from services.auth.adapters import repository as repo
from services.auth.api import ChallengeResponse, VerifyRequest
from services.auth.domain import passkeys
from services.auth.domain.passkeys import StoredPasskey
from services.auth.factors import FactorModule, Outcome, Passed
from services.auth.factors.tools import StepTools, Usual
from services.auth.settings import AuthSettings
from shared.events import utcnow
from shared.sealing import SealingError
from shared.webauthn import AMR_PASSKEY

log = logging.getLogger(__name__)

#: What py_webauthn (or the credential's own decoding) raises for an assertion it refuses.
_REFUSED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


@dataclass(frozen=True)
class Passkey(Usual):
    tools: StepTools
    pool: asyncpg.Pool
    settings: AuthSettings
    kinds: ClassVar[tuple[str, ...]] = ("passkey",)
    stages: ClassVar[tuple[str, ...]] = ("second_factor",)

    def _stored(self, step: repo.SecondStep) -> list[StoredPasskey]:
        """The employee's active passkeys that open (one that does not is skipped)."""
        found = []
        for factor in step.factors:
            if factor.kind != "passkey":
                continue
            try:
                body = self.tools.open_factor(step.practice.id, step.employee.id, factor)
                found.append(StoredPasskey.from_sealed(factor.id, body))
            except (SealingError, KeyError, ValueError, TypeError):
                log.warning("factor %s does not open; skipped", factor.id)
        return found

    async def challenge(self, kind: str, login_id: str) -> ChallengeResponse:
        settings, now = self.settings, utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            step = await self.tools.challenge_step(conn, login_id, now)
            stored = self._stored(step)
            if not stored:
                raise problems.factor_not_available()
            options = generate_authentication_options(
                rp_id=settings.webauthn_rp_id,
                timeout=settings.webauthn_challenge_seconds * 1000,
                allow_credentials=[
                    PublicKeyCredentialDescriptor(
                        id=base64url_to_bytes(p.credential_id),
                        transports=[
                            AuthenticatorTransport(t) for t in p.transports if t in _TRANSPORTS
                        ],
                    )
                    for p in stored
                ],
                user_verification=UserVerificationRequirement.PREFERRED,
            )
            expires_at = now + timedelta(seconds=settings.webauthn_challenge_seconds)
            challenge = bytes_to_base64url(options.challenge)
            await store.put_challenge(conn, login_id, challenge, now, expires_at)
        return ChallengeResponse(
            factor="passkey", expires_at=expires_at, options=json.loads(options_to_json(options))
        )

    async def verify(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> Outcome:
        """The login's challenge is spent by this try, whatever the answer."""
        assert answer.credential is not None  # the model checks
        settings, practice = self.settings, step.practice
        stored = self._stored(step)
        if not stored:
            return problems.factor_not_available()
        challenge = await store.take_challenge(conn, step.login_id)
        if challenge is None or challenge["used"]:
            return problems.challenge_required("passkey")
        if challenge["expires_at"] <= now:
            return problems.challenge_expired("passkey")
        credential = answer.credential.model_dump(exclude_none=True)
        passkey = passkeys.named(stored, answer.credential.rawId)
        if passkey is None:
            await self.tools.failed(conn, step, "passkey", now)
            return problems.passkey_refused("Not one of the employee's passkeys.")
        accepted_here = await store.sign_count(conn, practice.id, passkey.factor)
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge["challenge"]),
                expected_rp_id=settings.webauthn_rp_id,
                expected_origin=settings.webauthn_origins,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkeys.current_count(
                    passkey.sign_count, accepted_here
                ),
            )
        except _REFUSED as exc:
            await self.tools.failed(conn, step, "passkey", now)
            return problems.passkey_refused(str(exc) or type(exc).__name__)
        await store.put_sign_count(conn, practice.id, passkey.factor, verified.new_sign_count, now)
        detail = {"passkey": passkey.factor, "user_verified": verified.user_verified}
        log.info("passkey login", extra={"practice": practice.id, **detail})
        passed = Passed("passkey", AMR_PASSKEY, detail={**detail, "factor_id": passkey.factor})
        return await self.tools.complete_locked(conn, step, passed, now)


MODULE = FactorModule()
