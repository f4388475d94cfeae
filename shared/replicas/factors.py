"""Part ``factors``: second factors from ``factors`` (table ``factors``), merged field by
field, their secrets sealed."""

from __future__ import annotations

import asyncpg

from shared.events import FactorCredential
from shared.merged_rows import MergedTable

#: Second factors, merged field by field: a deactivation (``active``) survives a concurrent
#: spend of a recovery code in the other zone (which writes only ``sealed`` and ``created_at``).
FACTORS = MergedTable(
    "factors",
    ("practice", "id"),
    ("employee", "kind", "sealed", "active", "created_at", "confirmed_step"),
)


async def upsert_factor(conn: asyncpg.Connection, practice: str, ev: FactorCredential) -> bool:
    """Merge a factor credential into the one held (per field, last writer wins by version,
    then time, then zone); True if anything changed."""
    return await FACTORS.upsert(conn, (practice, ev.factor), FACTORS.state_of(ev))
