"""The history of a chaos run: every operation the load made, every fault, every revocation
and every probe of a revoked session, as JSON lines in the run folder (``history.jsonl``).

Times are seconds since the run started (one monotonic clock, the load's and the nemesis's).
Each entry is a JSON object with a ``type``:

- ``op``: ``client``, ``kind``, ``zones`` (the zones it was sent to, in order), ``start``,
  ``end``, ``outcome`` (``ok``, ``documented``: an error the SDK documents for that case,
  ``unavailable``: no zone answered, ``ended``: the session had ended, ``stale``: a login
  refused right after a password change, ``other``), ``error``, ``told`` (what the client was
  told), ``sids`` (sessions it began or ended), and kind-specific fields.
- ``fault``: ``kind``, ``target``, ``start``, ``end``, ``planned`` (the schedule's time),
  ``error`` (when applying it failed).
- ``revoked``: ``sid``, ``at`` (when the client was told), ``how`` (logout, password, …).
- ``probe``: ``sid``, ``zone``, ``at``, ``status`` of a renewal with a revoked session's token.
- ``notify``: ``request_id``, ``at``, ``acked``: a notification request put on the bus.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Entry = dict[str, Any]
OK = "ok"
DOCUMENTED = "documented"
UNAVAILABLE = "unavailable"
OTHER = "other"
#: A session refused because it ended (revoked): fine when a revocation explains it.
ENDED = "ended"
#: A login refused just after the password changed, in a zone that had not yet received it.
STALE = "stale"


class History:
    """Entries in memory and, given ``path``, appended to it as they come (a run that dies
    leaves what it saw). Safe to record from the nemesis's threads."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.clock = path, clock
        self.started = clock()
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def now(self) -> float:
        """Seconds since the run started."""
        return round(self.clock() - self.started, 4)

    def record(self, entry: Entry) -> Entry:
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                with self.path.open("a") as out:
                    out.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        return entry

    @property
    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def of(self, type_: str) -> list[Entry]:
        return [e for e in self.entries if e["type"] == type_]


def read(path: Path) -> list[Entry]:
    """A recorded history, as written."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
