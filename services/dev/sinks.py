"""Local SMTP and SMS sinks for ``tweestap dev``: every message is kept under ``var/``."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _MailboxHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:6]}.eml"
        content = envelope.original_content or b""
        (self.folder / name).write_bytes(content)
        return "250 Message accepted"


def start_smtp_sink(folder: Path, host: str, port: int) -> Controller:
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(_MailboxHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


def sms_sink_app(folder: Path) -> web.Application:
    folder.mkdir(parents=True, exist_ok=True)

    async def receive(request: web.Request) -> web.Response:
        body: Any = await request.json()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:6]}.json"
        (folder / name).write_text(json.dumps(body, indent=2))
        return web.json_response({"id": name, "status": "accepted"})

    app = web.Application()
    app.router.add_post("/sms", receive)
    return app
