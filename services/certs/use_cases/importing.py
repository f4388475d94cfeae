"""Importing a certificate with its private key (PKCS#12 with its password, or PEM): checked,
described, the key sealed; a practice holds each certificate once."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from cryptography import x509

from services.certs import problems
from services.certs.adapters import certificates as repo
from services.certs.api import CertificateImport, CertificateView
from services.certs.domain import certificate as certs
from services.certs.domain.rules import certificate_aad
from services.certs.metrics import CertsMetrics
from services.certs.use_cases.recording import Recorder
from services.certs.use_cases.views import view
from shared.events import CertificateUpserted, utcnow
from shared.sealing import Keyring


@dataclass(frozen=True)
class Importing:
    pool: asyncpg.Pool
    keyring: Keyring
    recorder: Recorder
    metrics: CertsMetrics
    zone: str
    clock: Callable[[], datetime] = utcnow

    async def import_certificate(self, practice: str, body: CertificateImport) -> CertificateView:
        """A new certificate of the practice (version 1); 422 for one that cannot be used,
        409 for one the practice already has."""
        now = self.clock()
        cert, key = self._checked(body, now)
        nr = uuid.uuid4().hex[:16]
        sealed = self.keyring.seal(certs.key_pem(key), certificate_aad(practice, nr))
        state = _state(nr, cert, now, self.zone)
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_practice(conn, practice)
            existing = await repo.live_with_fingerprint(conn, practice, state.fingerprint)
            if existing is not None:
                self.metrics.changed("refused:duplicate-certificate")
                raise problems.duplicate(existing)
            await self.recorder.record(conn, practice, state, now, "imported", sealed)
            row = await repo.certificate(conn, practice, nr)
        assert row is not None
        self.metrics.changed("imported")
        return view(row)

    def _checked(
        self, body: CertificateImport, now: datetime
    ) -> tuple[x509.Certificate, certs.PrivateKey]:
        try:
            cert, key = _read(body)
            certs.check(cert, key, now)
        except certs.CertificateRefused as refusal:
            self.metrics.changed(f"refused:{refusal.slug}")
            raise problems.refused(refusal.slug, refusal.detail) from None
        return cert, key


def _read(body: CertificateImport) -> tuple[x509.Certificate, certs.PrivateKey]:
    if body.pkcs12 is not None:
        try:
            data = base64.b64decode(body.pkcs12, validate=True)
        except (binascii.Error, ValueError):
            raise problems.refused(
                "unreadable-certificate", "The PKCS#12 file is not valid base64."
            ) from None
        return certs.load_pkcs12(data, body.password)
    assert body.certificate_pem is not None and body.key_pem is not None
    return certs.load_pem(body.certificate_pem, body.key_pem, body.password)


def _state(nr: str, cert: x509.Certificate, now: datetime, zone: str) -> CertificateUpserted:
    """The first state of an imported certificate."""
    about = certs.describe(cert)
    return CertificateUpserted(
        nr=nr,
        fingerprint=about.fingerprint,
        certificate_pem=certs.certificate_pem(cert),
        subject=about.subject,
        issuer=about.issuer,
        serial_number=about.serial_number,
        not_before=about.not_before,
        not_after=about.not_after,
        kind=about.kind,
        agb_code=about.uzi.agb if about.uzi else None,
        version=1,
        updated_at=now,
        zone=zone,
    )
