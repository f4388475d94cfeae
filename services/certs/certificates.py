"""Use cases of the store: import, show, configure, grant, remove, entitlements."""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.certs import problems
from services.certs.adapters import repository as repo
from services.certs.api import (
    CertificateImport,
    CertificateUpdate,
    CertificateView,
    Entitlements,
    Removed,
    UziView,
)
from services.certs.core import CertsCore, certificate_aad
from services.certs.domain import certificate as certs
from services.certs.domain.rules import may_use
from shared import actors
from shared.events import CertificateUpserted, stamped, utcnow
from shared.merge import ELEMENT, edit
from shared.topics import CERTS_EVENTS


def view(row: asyncpg.Record) -> CertificateView:
    state = repo.to_event(row)
    about = certs.describe_pem(state.certificate_pem)
    uzi = about.uzi
    return CertificateView(
        nr=state.nr,
        kind=state.kind,
        type=state.type,
        subject=state.subject,
        issuer=state.issuer,
        not_before=state.not_before,
        not_after=state.not_after,
        serial_number=state.serial_number,
        serial_spaced=about.serial_spaced,
        key_type=about.key_type,
        key_size=about.key_size,
        fingerprint=state.fingerprint,
        uzi=UziView(number=uzi.number, role=uzi.role, subscriber=uzi.subscriber, agb=uzi.agb)
        if uzi
        else None,
        agb_code=state.agb_code,
        services=state.services,
        grants=state.grants,
        has_key=row["sealed_key"] is not None,
        version=state.version,
        updated_at=state.updated_at,
    )


def _read(body: CertificateImport) -> tuple[Any, certs.PrivateKey]:
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


class Certificates(CertsCore):
    async def _write(
        self,
        conn: asyncpg.Connection,
        practice: str,
        state: CertificateUpserted,
        now: datetime,
        sealed_key: str | None = None,
        change: str = "imported",
        employee: str | None = None,
    ) -> None:
        """Store the new state and queue it on certs.events in the same transaction; beside
        the state, the event says what changed and who did it (audit trail)."""
        await repo.upsert_certificate(conn, practice, state, sealed_key)
        audit: dict[str, Any] = {"change": change, "actor": actors.current()}
        if employee is not None:
            audit["employee"] = employee
        await self.emit(
            conn,
            CERTS_EVENTS,
            "certificate.upserted",
            practice,
            state.nr,
            {**state.model_dump(mode="json"), **audit},
            now,
        )
        if state.removed:
            self.expiry_gauge_remove(practice, state.nr)
        else:
            self.metrics.expiry.labels(**self.metrics.base(), practice=practice, nr=state.nr).set(
                state.not_after.timestamp()
            )

    def expiry_gauge_remove(self, practice: str, nr: str) -> None:
        with contextlib.suppress(KeyError):
            self.metrics.expiry.remove(self.settings.service, self.settings.zone, practice, nr)

    async def import_certificate(self, practice: str, body: CertificateImport) -> CertificateView:
        now = utcnow()
        try:
            cert, key = _read(body)
            certs.check(cert, key, now)
        except certs.CertificateRefused as refusal:
            self.metrics.changed(f"refused:{refusal.slug}")
            raise problems.refused(refusal.slug, refusal.detail) from None
        about = certs.describe(cert)
        nr = uuid.uuid4().hex[:16]
        sealed = self.keyring.seal(certs.key_pem(key), certificate_aad(practice, nr))
        state = CertificateUpserted(
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
            zone=self.settings.zone,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_practice(conn, practice)
            existing = await conn.fetchval(
                "SELECT nr FROM certificates WHERE practice = $1 AND fingerprint = $2 "
                "AND NOT removed",
                practice,
                about.fingerprint,
            )
            if existing is not None:
                self.metrics.changed("refused:duplicate-certificate")
                raise problems.duplicate(existing)
            await self._write(conn, practice, state, now, sealed)
            row = await repo.certificate(conn, practice, nr)
        assert row is not None
        self.metrics.changed("imported")
        return view(row)

    async def list_certificates(self, practice: str) -> list[CertificateView]:
        async with self.pool.acquire() as conn:
            return [view(r) for r in await repo.certificates(conn, practice)]

    async def get_certificate(self, practice: str, nr: str) -> CertificateView:
        async with self.pool.acquire() as conn:
            row = await repo.certificate(conn, practice, nr)
        if row is None:
            raise problems.no_certificate()
        return view(row)

    async def _change(
        self, practice: str, nr: str, change: str, **updates: Any
    ) -> tuple[CertificateUpserted, asyncpg.Record | None]:
        """Apply ``updates`` to the certificate's state as version + 1 (with its event)."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await repo.certificate(conn, practice, nr, lock=True)
            if row is None:
                raise problems.no_certificate()
            employee = None
            if "grant" in updates or "revoke" in updates:
                employee = updates.pop("grant", None) or updates.pop("revoke")
                if await repo.employee(conn, practice, employee) is None:
                    raise problems.unknown_employee()
                # One employee's grant is one element: a revocation here and a grant to
                # someone else in the other zone both survive.
                updates[f"grants{ELEMENT}{employee}"] = change == "granted"
            # Only the changed fields get the new stamp: a removal in one zone survives a
            # concurrent grant or type change in the other.
            current = await repo.certificate_state(conn, practice, nr)
            changed = edit(current, updates, now, self.settings.zone)
            state = CertificateUpserted(nr=nr, **stamped(changed, CertificateUpserted))
            await self._write(conn, practice, state, now, change=change, employee=employee)
            after = await repo.certificate(conn, practice, nr)
        self.metrics.changed(change)
        return state, after

    async def update_certificate(
        self, practice: str, nr: str, body: CertificateUpdate
    ) -> CertificateView:
        updates: dict[str, Any] = {}
        if "type" in body.model_fields_set and body.type is not None:
            updates["type"] = body.type
        if "agb_code" in body.model_fields_set:
            updates["agb_code"] = body.agb_code
        if "services" in body.model_fields_set and body.services is not None:
            updates["services"] = sorted(set(body.services))
        _, row = await self._change(practice, nr, "updated", **updates)
        assert row is not None
        return view(row)

    async def grant(self, practice: str, nr: str, employee: str) -> CertificateView:
        _, row = await self._change(practice, nr, "granted", grant=employee)
        assert row is not None
        return view(row)

    async def revoke(self, practice: str, nr: str, employee: str) -> CertificateView:
        _, row = await self._change(practice, nr, "revoked", revoke=employee)
        assert row is not None
        return view(row)

    async def remove(self, practice: str, nr: str) -> Removed:
        await self._change(practice, nr, "removed", removed=True)
        return Removed(nr=nr)

    async def entitlements(self, practice: str, employee: str, service: str | None) -> Entitlements:
        now = utcnow()
        async with self.pool.acquire() as conn:
            person = await repo.employee(conn, practice, employee)
            if person is None:
                raise problems.unknown_employee()
            rows = await repo.certificates(conn, practice)
        usable = []
        for row in rows:
            state = repo.to_event(row)
            if state.not_after <= now:
                continue
            if may_use(
                state.type, state.grants, state.services, employee, person["in_service"], service
            ):
                usable.append(view(row))
        return Entitlements(employee=employee, service=service, certificates=usable)
