"""What the entry points use: one service object composing the use cases."""

from __future__ import annotations

from services.certs.expiry import Expiry


class CertsService(Expiry):
    """Certificates (import, configure, grant, remove, entitlements) and expiry notices."""
