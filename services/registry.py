"""The services the ``tweestap`` command can run, and their default ports per zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from services.auth.http import MIGRATIONS as AUTH_MIGRATIONS
from services.auth.http import create_app as create_auth
from services.auth.settings import AuthSettings
from services.certs.http import MIGRATIONS as CERTS_MIGRATIONS
from services.certs.http import create_app as create_certs
from services.certs.settings import CertsSettings
from services.enrolment.http import MIGRATIONS as ENROLMENT_MIGRATIONS
from services.enrolment.http import create_app as create_enrolment
from services.enrolment.settings import EnrolmentSettings
from services.notifier.http import MIGRATIONS as NOTIFIER_MIGRATIONS
from services.notifier.http import create_app as create_notifier
from services.notifier.settings import NotifierSettings
from shared.settings import Settings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    settings: type[Settings]
    create_app: Callable[..., web.Application]
    migrations: Path
    port_offset: int

    def default_port(self, zone: str) -> int:
        return (8100 if zone == "a" else 8200) + self.port_offset


SERVICES = {
    "auth": ServiceSpec("auth", AuthSettings, create_auth, AUTH_MIGRATIONS, 1),
    "enrolment": ServiceSpec(
        "enrolment", EnrolmentSettings, create_enrolment, ENROLMENT_MIGRATIONS, 2
    ),
    "certs": ServiceSpec("certs", CertsSettings, create_certs, CERTS_MIGRATIONS, 3),
    "notifier": ServiceSpec("notifier", NotifierSettings, create_notifier, NOTIFIER_MIGRATIONS, 4),
}
