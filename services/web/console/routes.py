"""Every route of the admin console (one entry in the front end's route table)."""

from __future__ import annotations

from services.web.console import account_texts, audit_texts, texts
from services.web.context import WebRoute
from services.web.pages import (
    console_accounts,
    console_audit,
    console_certificates,
    console_employees,
    console_settings,
)

texts.register()
account_texts.register()
audit_texts.register()

ROUTES: list[WebRoute] = [
    WebRoute("GET", "/console", console_settings.home),
    *console_settings.ROUTES,
    *console_employees.ROUTES,
    *console_accounts.ROUTES,
    *console_certificates.ROUTES,
    *console_audit.ROUTES,
]
