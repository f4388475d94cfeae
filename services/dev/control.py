"""The control endpoint of a running local deployment: ``tweestap zone down|up Z`` talks to it.

Listens on 127.0.0.1 only: whoever can reach it can take zones down. ``POST /zones/{z}/down``
and ``POST /zones/{z}/up`` answer ``{"zone", "action", "said": [lines]}``; anything else is a
problem+json 4xx.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from shared.problems import CONTENT_TYPE, TYPE_BASE


class Zones(Protocol):
    zones: tuple[str, ...]

    def zone_down(self, zone: str) -> list[str]: ...

    def zone_up(self, zone: str) -> list[str]: ...


class ControlServer:
    """Serves the control endpoint from a thread; one zone operation at a time."""

    def __init__(self, deployment: Zones, port: int, host: str = "127.0.0.1") -> None:
        self.deployment = deployment
        self._busy = threading.Lock()
        self._http = ThreadingHTTPServer((host, port), self._handler())
        self._thread = threading.Thread(
            target=self._http.serve_forever, daemon=True, name="dev-control"
        )

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran
            self._http.shutdown()
        self._http.server_close()

    def act(self, zone: str, action: str) -> tuple[int, dict[str, Any]]:
        """The status and body of the answer to ``action`` on ``zone``."""
        if zone not in self.deployment.zones:
            return _problem(404, "unknown-zone", f"no zone {zone!r} in this deployment")
        if action not in ("down", "up"):
            return _problem(404, "not-found", f"no action {action!r}: down or up")
        if not self._busy.acquire(blocking=False):
            return _problem(409, "busy", "another zone operation is under way")
        try:
            if action == "down":
                said = self.deployment.zone_down(zone)
            else:
                said = self.deployment.zone_up(zone)
        except (OSError, TimeoutError) as error:
            return _problem(503, "zone-operation-failed", str(error).splitlines()[0])
        finally:
            self._busy.release()
        return 200, {"zone": zone, "action": action, "said": said}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "zones":
                    status, body = control.act(parts[1], parts[2])
                else:
                    status, body = _problem(404, "not-found", "POST /zones/{zone}/down|up")
                self._answer(status, body)

            def do_GET(self) -> None:
                self._answer(*_problem(405, "method-not-allowed", "POST /zones/{zone}/down|up"))

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                kind = "application/json" if status == 200 else CONTENT_TYPE
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the deployment says what happened."""

        return Handler


def _problem(status: int, slug: str, detail: str) -> tuple[int, dict[str, Any]]:
    title = slug.replace("-", " ").capitalize()
    return status, {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
