"""What the API shows of a stored certificate (never its key)."""

from __future__ import annotations

import asyncpg

from services.certs.adapters import certificates as repo
from services.certs.api import CertificateView, UziView
from services.certs.domain import certificate as certs


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
