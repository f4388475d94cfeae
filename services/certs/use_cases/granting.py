"""Letting an employee use a personal certificate, and withdrawing it."""

from __future__ import annotations

from dataclasses import dataclass

from services.certs.api import CertificateView
from services.certs.use_cases.editing import Editor
from services.certs.use_cases.views import view
from shared.merge import ELEMENT


@dataclass(frozen=True)
class Granting:
    editor: Editor

    async def grant(self, practice: str, nr: str, employee: str) -> CertificateView:
        return await self._set(practice, nr, employee, granted=True)

    async def revoke(self, practice: str, nr: str, employee: str) -> CertificateView:
        return await self._set(practice, nr, employee, granted=False)

    async def _set(self, practice: str, nr: str, employee: str, granted: bool) -> CertificateView:
        # One employee's grant is one element: a revocation here and a grant to someone else
        # in the other zone both survive.
        updates = {f"grants{ELEMENT}{employee}": granted}
        change = "granted" if granted else "revoked"
        row = await self.editor.edit(practice, nr, change, updates, employee=employee)
        assert row is not None
        return view(row)
