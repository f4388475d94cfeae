"""Writing ``notify.requests``: what a service does to have an e-mail or SMS sent, or a
back-channel logout token delivered to an application (:func:`backchannel_logout`).

Codes go in ``secrets`` and are sealed (associated data :func:`notify_aad`) so they are never
in clear on Kafka or in a database; the notifier opens them to render the template. Pass a
deterministic ``request_id`` for work both zones might start by themselves: the notifier
delivers each request id once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from shared.events import (
    BACKCHANNEL_TEMPLATE,
    LOGOUT_TOKEN,
    Channel,
    Envelope,
    Locale,
    NotifyRequest,
    notify_aad,
)
from shared.outbox import publish
from shared.sealing import Keyring
from shared.settings import Settings
from shared.topics import NOTIFY_REQUESTS


def notify_request(
    settings: Settings,
    keyring: Keyring,
    practice: str,
    subject: str,
    channel: Channel,
    template: str,
    recipient: str,
    parameters: Mapping[str, str | int],
    secrets: Mapping[str, str] | None = None,
    locale: Locale = "nl",
    now: datetime | None = None,
    request_id: uuid.UUID | None = None,
) -> Envelope:
    rid = request_id or uuid.uuid4()
    body = NotifyRequest(
        channel=channel,
        template=template,
        locale=locale,
        recipient=recipient,
        parameters=dict(parameters),
        sealed={
            name: keyring.seal(value.encode(), notify_aad(practice, rid, name))
            for name, value in (secrets or {}).items()
        },
    )
    envelope = Envelope(
        id=rid,
        type="notify.requested",
        source=settings.source,
        practice=practice,
        subject=subject,
        data=body.model_dump(mode="json"),
    )
    if now is not None:
        envelope.time = now
    return envelope


#: The namespace of back-channel logout request ids (:func:`backchannel_request_id`).
BACKCHANNEL_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tweestap:notify:backchannel-logout")


def backchannel_request_id(session: str, client: str) -> uuid.UUID:
    """The request id of the logout of ``session`` at ``client``: the same in both zones, so
    the notifier delivers it once however many zones ask."""
    return uuid.uuid5(BACKCHANNEL_IDS, f"{session}\n{client}")


def backchannel_logout(
    settings: Settings,
    keyring: Keyring,
    practice: str,
    session: str,
    client: str,
    uri: str,
    logout_token: str,
    now: datetime | None = None,
) -> Envelope:
    """A request to POST ``logout_token`` (OpenID Connect Back-Channel Logout 1.0) to the
    client's back-channel logout ``uri``. The request id follows from the ended ``session``
    and the ``client`` (:func:`backchannel_request_id`) and is also the envelope's
    ``subject``, so both zones' copies have the same id and the same record key; the token is
    sealed under the name ``logout_token``."""
    rid = backchannel_request_id(session, client)
    return notify_request(
        settings,
        keyring,
        practice,
        str(rid),
        "backchannel",
        BACKCHANNEL_TEMPLATE,
        uri,
        {},
        secrets={LOGOUT_TOKEN: logout_token},
        now=now,
        request_id=rid,
    )


async def request_notification(
    conn: asyncpg.Connection, settings: Settings, envelope: Envelope
) -> None:
    """Queue the request in the caller's transaction (outbox)."""
    await publish(conn, settings, NOTIFY_REQUESTS, envelope)


def local_time(at: datetime, zone_name: str, fmt: str) -> str:
    """``at`` as a message to a person shows it, in the named time zone (UTC if unknown):
    templates format nothing."""
    try:
        zone: tzinfo = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return at.astimezone(zone).strftime(fmt)
