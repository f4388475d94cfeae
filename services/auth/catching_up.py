"""Auth does not decide on sessions with state it knows to be stale.

After its database failed while events were arriving, or when it starts again on a database
that has consumed before (a zone back from an outage), this zone's tables may lack what the bus
already holds (the other zone's revocations, password changes, failed attempts) until its
consumer has read to the end again (``EventConsumer.behind``, bounded by
``catch_up_max_seconds``). Meanwhile a login, renewal or introspection here could
honour a session the other zone ended, so they answer 503 (``Retry-After``) and clients use the
other zone. Logging out stays open: it only adds a revocation.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from shared.consumer import EventConsumer
from shared.http import HandlerFn
from shared.problems import Problem

#: Paths answered while behind: ending a session never depends on the state being complete.
OPEN_WHILE_BEHIND = frozenset({"/v1/tokens/revoke"})
RETRY_AFTER_SECONDS = 1


def refuse_while_behind(consumer: web.AppKey[EventConsumer]) -> Middleware:
    """A middleware answering 503 on ``/v1/…`` while the app's ``consumer`` is behind."""

    @web.middleware
    async def middleware(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
        replication = request.app.get(consumer)
        if (
            replication is not None
            and replication.behind
            and request.path.startswith("/v1/")
            and request.path not in OPEN_WHILE_BEHIND
        ):
            raise Problem(
                503,
                "catching-up",
                "Zone catching up",
                "This zone is applying events it missed while its database was away; "
                "try again shortly or use another zone.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return await handler(request)

    return middleware
