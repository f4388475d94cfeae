"""Local SMTP and SMS sinks for ``tweestap dev``: every message is kept under ``var/``."""

from __future__ import annotations

import asyncio
import json
import threading
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


class SmsSink:
    """The SMS sink served from a thread of its own (the caller may have no event loop)."""

    def __init__(self, folder: Path, host: str, port: int) -> None:
        self.folder, self.host, self.port = folder, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/sms"

    def start(self) -> None:
        started = threading.Event()
        failed: list[BaseException] = []
        loop = self._loop = asyncio.new_event_loop()

        def serve() -> None:
            runner = web.AppRunner(sms_sink_app(self.folder))
            try:
                loop.run_until_complete(runner.setup())
                loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
            except OSError as error:  # the port is taken
                failed.append(error)
                return
            finally:
                started.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="sms-sink")
        self._thread.start()
        started.wait(10)
        if failed:
            raise failed[0]

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None
