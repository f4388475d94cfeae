"""Removing a certificate: its state says removed (it replicates), its sealed key is gone."""

from __future__ import annotations

from dataclasses import dataclass

from services.certs.api import Removed
from services.certs.use_cases.editing import Editor


@dataclass(frozen=True)
class Removing:
    editor: Editor

    async def remove(self, practice: str, nr: str) -> Removed:
        await self.editor.edit(practice, nr, "removed", {"removed": True}, employee=None)
        return Removed(nr=nr)
