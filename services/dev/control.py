"""The control endpoint of a running local deployment: ``tweestap zone down|up Z`` and
``tweestap dev reset-admin`` talk to it.

Listens on 127.0.0.1 only and, given a token, lets in only requests that bear it
(``Authorization: Bearer …``; ``tweestap dev`` keeps it in ``var/run/control-token``, 0600: who
may read ``var/`` may operate the deployment, not everyone on the machine).
``POST /zones/{z}/down`` and ``POST /zones/{z}/up`` answer ``{"zone", "action", "said":
[lines]}`` (a zone already so: one line that says it, still 200); ``POST /demo/reset-admin``
with ``{"password"}`` answers ``{"action", "said"}``; anything else is a problem+json 4xx, a
failure a 5xx: never a dropped connection.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from services.dev.ports import PortTaken
from shared.problems import CONTENT_TYPE, TYPE_BASE, Problem

Answer = tuple[int, dict[str, Any]]
#: Sets the demo administrator's password (the argument) and unlocks them; says what it did.
ResetAdmin = Callable[[str], list[str]]
USAGE = "POST /zones/{zone}/down|up or /demo/reset-admin"


class Zones(Protocol):
    zones: tuple[str, ...]

    def zone_down(self, zone: str) -> list[str]: ...

    def zone_up(self, zone: str) -> list[str]: ...


class ControlServer:
    """Serves the control endpoint from a thread; one operation at a time."""

    def __init__(
        self,
        deployment: Zones,
        port: int,
        host: str = "127.0.0.1",
        *,
        token: str | None = None,
        reset_admin: ResetAdmin | None = None,
    ) -> None:
        self.deployment = deployment
        self.token = token
        self.reset_admin = reset_admin
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

    def allowed(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        given = (authorization or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def act(self, zone: str, action: str) -> Answer:
        """The status and body of the answer to ``action`` on ``zone``."""
        if zone not in self.deployment.zones:
            return _problem(404, "unknown-zone", f"no zone {zone!r} in this deployment")
        if action not in ("down", "up"):
            return _problem(404, "not-found", f"no action {action!r}: down or up")
        operation = self.deployment.zone_down if action == "down" else self.deployment.zone_up
        status, body = self._one_at_a_time(lambda: operation(zone))
        return status, ({"zone": zone, "action": action, **body} if status == 200 else body)

    def reset(self, body: dict[str, Any]) -> Answer:
        if self.reset_admin is None:
            return _problem(404, "not-found", "this deployment has no demo administrator")
        password = body.get("password")
        if not isinstance(password, str) or not password:
            return _problem(400, "invalid-request", 'a body {"password": "…"} is required')
        reset_admin = self.reset_admin
        status, answer = self._one_at_a_time(lambda: reset_admin(password))
        return status, ({"action": "reset-admin", **answer} if status == 200 else answer)

    def _one_at_a_time(self, operation: Callable[[], list[str]]) -> Answer:
        if not self._busy.acquire(blocking=False):
            return _problem(409, "busy", "another operation is under way")
        try:
            return 200, {"said": operation()}
        except Problem as problem:
            return _problem(problem.status, problem.slug, problem.detail or problem.title)
        except PortTaken as taken:
            return _problem(409, "port-taken", str(taken).replace(" Nothing was started.", ""))
        except (OSError, TimeoutError) as error:
            return _problem(503, "operation-failed", _first_line(error))
        except Exception as error:  # said to the caller, not a dropped connection
            return _problem(
                500, "operation-failed", f"{type(error).__name__}: {_first_line(error)}"
            )
        finally:
            self._busy.release()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 4096)) if length else b""
                if not control.allowed(self.headers.get("Authorization")):
                    status, body = _problem(401, "unauthorized", "the control token is missing")
                elif len(parts) == 3 and parts[0] == "zones":
                    status, body = control.act(parts[1], parts[2])
                elif parts == ["demo", "reset-admin"]:
                    try:
                        given = json.loads(raw or b"{}")
                    except ValueError:
                        given = None
                    if isinstance(given, dict):
                        status, body = control.reset(given)
                    else:
                        status, body = _problem(400, "invalid-request", "a JSON object")
                else:
                    status, body = _problem(404, "not-found", USAGE)
                self._answer(status, body)

            def do_GET(self) -> None:
                self._answer(*_problem(405, "method-not-allowed", USAGE))

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


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


def _problem(status: int, slug: str, detail: str) -> Answer:
    title = slug.replace("-", " ").capitalize()
    return status, {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
