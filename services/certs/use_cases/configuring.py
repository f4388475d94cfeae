"""Configuring a certificate: its type (personal/public), AGB code and services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.certs.api import CertificateUpdate, CertificateView
from services.certs.use_cases.editing import Editor
from services.certs.use_cases.views import view


@dataclass(frozen=True)
class Configuring:
    editor: Editor

    async def update_certificate(
        self, practice: str, nr: str, body: CertificateUpdate
    ) -> CertificateView:
        """Omitted fields keep their value; ``agb_code: null`` clears it."""
        updates: dict[str, Any] = {}
        if "type" in body.model_fields_set and body.type is not None:
            updates["type"] = body.type
        if "agb_code" in body.model_fields_set:
            updates["agb_code"] = body.agb_code
        if "services" in body.model_fields_set and body.services is not None:
            updates["services"] = sorted(set(body.services))
        row = await self.editor.edit(practice, nr, "updated", updates, employee=None)
        assert row is not None
        return view(row)
