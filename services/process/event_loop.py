"""The event loop a served process runs on (``TWEESTAP_EVENT_LOOP``).

uvloop runs the same asyncio code on libuv: on auth's hot paths (renewal, introspection) it
takes less CPU per request than the standard selector loop (issue 14, ``tweestap bench``).
Tests keep pytest's standard loop; ``asyncio`` is there for a platform without uvloop."""

from __future__ import annotations

import asyncio

from shared.settings import Settings


def new_event_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
