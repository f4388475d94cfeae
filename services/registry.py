"""The services the ``tweestap`` command can run, and their default ports per zone.

A service's modules are imported when first asked for (its settings, app or migrations), so a
command that runs one service, or only supervises its workers, does not carry the others."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from shared.db import Migrations
from shared.settings import Settings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    #: ``module:Class`` of its settings.
    settings_class: str
    port_offset: int

    @property
    def settings(self) -> type[Settings]:
        module, _, name = self.settings_class.partition(":")
        return cast(type[Settings], getattr(importlib.import_module(module), name))

    def _http(self) -> Any:
        """The service's ``services.NAME.http`` module: ``create_app`` and ``MIGRATIONS``."""
        return importlib.import_module(f"services.{self.name}.http")

    @property
    def create_app(self) -> Callable[..., web.Application]:
        return cast(Callable[..., web.Application], self._http().create_app)

    @property
    def migrations(self) -> Migrations:
        return cast(Migrations, self._http().MIGRATIONS)

    def default_port(self, zone: str) -> int:
        return (8100 if zone == "a" else 8200) + self.port_offset


SERVICES = {
    "auth": ServiceSpec("auth", "services.auth.settings:AuthSettings", 1),
    "enrolment": ServiceSpec("enrolment", "services.enrolment.settings:EnrolmentSettings", 2),
    "certs": ServiceSpec("certs", "services.certs.settings:CertsSettings", 3),
    "notifier": ServiceSpec("notifier", "services.notifier.settings:NotifierSettings", 4),
}
