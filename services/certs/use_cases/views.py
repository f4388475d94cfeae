"""What the API shows of a stored certificate (never its key)."""

from __future__ import annotations

import asyncpg

from services.certs.adapters import certificates as repo
from services.certs.api import CertificateView, UziView
from services.certs.domain import certificate as certs
from shared.events import CertificateUpserted

#: What the view shows as the state holds it; the rest is read from the certificate itself.
_AS_STORED = set(CertificateView.model_fields) & set(CertificateUpserted.model_fields)


def view(row: asyncpg.Record) -> CertificateView:
    state = repo.to_event(row)
    about = certs.describe_pem(state.certificate_pem)
    uzi = about.uzi
    return CertificateView(
        **state.model_dump(include=_AS_STORED),
        serial_spaced=about.serial_spaced,
        key_type=about.key_type,
        key_size=about.key_size,
        uzi=UziView(
            number=uzi.number,
            role=uzi.role,
            subscriber=uzi.subscriber,
            agb=uzi.agb,
            card_type=uzi.card_type,
            ura=uzi.ura,
        )
        if uzi
        else None,
        has_key=row["sealed_key"] is not None,
    )
