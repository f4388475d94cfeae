"""``tweestap bench oidc``: the OpenID Provider (docs/adr/0011) under load, one phase after
another in one stack (PostgreSQL, the broker, one auth server and the web front door, which is
the issuer and relays to it), with one registered application (client_secret_basic, PKCE S256,
its ID tokens RS256 unless ``--id-token-alg EdDSA``):

- ``authorize``: auth's ``POST /v1/oidc/authorizations``, a code from an SSO session (what the
  front door asks once the person has logged in); its codes are the next phase's.
- ``exchange``: auth's token endpoint redeeming those codes, each a grant session of its own.
- ``refresh``: auth's token endpoint rotating refresh tokens, a chain per request in flight
  (a chain's token is never presented twice: that would be a reuse, which ends the grant);
  ``refresh_front_door``: the same at the issuer's ``/token`` (the web relays it to auth).
- ``flow_password``, ``flow_totp``: complete authorization-code flows through the front door,
  as a browser with its own cookies does them (``GET /authorize`` → the login page →
  ``POST /login`` [→ the factor → the TOTP code] → ``/authorize/resume`` → the redirect with
  the code → ``POST /token`` at the front door), for employees taken in turn; per CPU-second
  of auth and the web together, against raw argon2id per CPU-second (as ``bench login``).

Per server core-second figures divide by auth's CPU for the phases at auth, and by auth's and
the web's at the front door; PostgreSQL's and the broker's CPU is reported beside, not
included."""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import html
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import aiohttp

from bench.harness import (
    CpuMeter,
    LoadResult,
    Scenario,
    Stack,
    Steps,
    auth_stack,
    base_parser,
    ensure_alive,
    latency_summary,
    load_parameters,
    log,
    login_once,
    report,
    request_json,
    rss_mb,
    run_load,
    run_load_here,
    stack_meter,
    step_latencies,
    target,
)
from bench.login import (
    HashShare,
    RawArgon2,
    TotpSteps,
    measure_raw,
    require_two_factors,
    server_counter,
    two_factor_practice,
)
from services.auth.commands import open_clients
from services.auth.domain.clients import IdTokenAlg, Registration
from shared import otp

#: Goals of issue 23's figures.
TOKEN_REQUESTS_PER_CORE_S = 1500.0
FLOW_VS_ARGON2_PER_CPU_S = 0.7
CLIENT_ID = "bench-app"
REDIRECT_URI = "https://app.bench.example/callback"
SCOPE = "openid profile email"
#: A code lives 60 s: the exchange phase redeems codes the authorize phase made before it.
MAX_CODE_PHASE_S = 40.0
#: Redirects one browser step follows at most (a loop is a failure, not a hang).
MAX_REDIRECTS = 8
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
NOTE = (
    "Measured on a machine shared with other engineers' test runs: its "
    f"{os.cpu_count()} cores also run the load generator, PostgreSQL, the broker, auth and "
    "the web. Per server core-second figures divide by auth's CPU (the flows: auth's and the "
    "web's); PostgreSQL's and the broker's are reported in cpu_s_during_load, not included. "
    "'outside' is CPU other processes on the machine used meanwhile."
)


@dataclass(frozen=True)
class App:
    """The registered application, as it calls the provider."""

    client_id: str
    secret: str
    redirect_uri: str = REDIRECT_URI

    def basic(self) -> dict[str, str]:
        raw = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {raw}", **FORM_TYPE}


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636), as a client makes them."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def exchange_form(app: App, code: str, verifier: str) -> bytes:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uri,
        "code_verifier": verifier,
    }
    return urlencode(form).encode()


async def register(stack: Stack, alg: IdTokenAlg) -> App:
    """The application, registered the way ``tweestap client add`` does it."""
    async with open_clients(stack.settings) as clients:
        registration = Registration(redirect_uris=(REDIRECT_URI,), id_token_alg=alg)
        secret = await clients.register(CLIENT_ID, "Bench App", registration)
    assert secret is not None  # client_secret_basic
    return App(CLIENT_ID, secret)


# --------------------------------------------------------------------------- at auth


@dataclass
class MintCodes:
    """Codes from one SSO session, kept with their verifiers for :class:`CodeExchange`."""

    url: str
    sso_token: str
    app: App
    codes: list[tuple[str, str]] = field(default_factory=list)

    def part(self, index: int, count: int) -> MintCodes:
        return self  # run in this process only (run_load_here): the codes are read after

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        verifier, challenge = pkce()
        body = {
            "client_id": self.app.client_id,
            "redirect_uri": self.app.redirect_uri,
            "scope": SCOPE,
            "code_challenge": challenge,
            "nonce": secrets.token_urlsafe(12),
        }
        headers = {"Authorization": f"Bearer {self.sso_token}", "Content-Type": "application/json"}
        data, failure = await request_json(
            session, "POST", self.url, json.dumps(body).encode(), headers, "code", status=201
        )
        if data is not None:
            self.codes.append((data["code"], verifier))
        return failure


@dataclass
class CodeExchange:
    """Each code redeemed once, in the order they were made (the oldest first)."""

    url: str
    app: App
    codes: list[tuple[str, str]]
    _next: int = 0

    def part(self, index: int, count: int) -> CodeExchange:
        return CodeExchange(self.url, self.app, self.codes[index::count])

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        if self._next >= len(self.codes):
            await asyncio.sleep(0.05)
            return "no code left: the authorize phase made fewer than the exchange redeemed"
        code, verifier = self.codes[self._next]
        self._next += 1
        body = exchange_form(self.app, code, verifier)
        _, failure = await request_json(
            session, "POST", self.url, body, self.app.basic(), "refresh_token"
        )
        return failure


@dataclass
class RefreshChains:
    """Refresh tokens rotated, one grant's chain per request in flight: a request takes a
    chain, presents its current token and puts the next one back."""

    url: str
    app: App
    tokens: list[str]
    _free: collections.deque[str] = field(default_factory=collections.deque)

    def __post_init__(self) -> None:
        self._free.extend(self.tokens)

    def part(self, index: int, count: int) -> RefreshChains:
        return RefreshChains(self.url, self.app, self.tokens[index::count])

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        if not self._free:
            await asyncio.sleep(0.05)
            return "no refresh chain free: fewer grants than requests in flight"
        token = self._free.popleft()
        body = urlencode({"grant_type": "refresh_token", "refresh_token": token}).encode()
        data, failure = await request_json(
            session, "POST", self.url, body, self.app.basic(), "refresh_token"
        )
        self._free.append(data["refresh_token"] if data is not None else token)
        return failure


async def _grants(stack: Stack, app: App, sso_token: str, count: int) -> list[str]:
    """``count`` grants' first refresh tokens (a code each, redeemed)."""
    minter = MintCodes(f"{stack.base_url}/v1/oidc/authorizations", sso_token, app)
    url = f"{stack.base_url}/v1/oidc/token"
    tokens: list[str] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            failure = await minter.once(session)
            if failure is not None:
                raise RuntimeError(f"authorization failed: {failure}")
            code, verifier = minter.codes.pop()
            data, failure = await request_json(
                session,
                "POST",
                url,
                exchange_form(app, code, verifier),
                app.basic(),
                "refresh_token",
            )
            if data is None:
                raise RuntimeError(f"code exchange failed: {failure}")
            tokens.append(data["refresh_token"])
    return tokens


# --------------------------------------------------------------------------- the front door


@dataclass(frozen=True)
class Arrival:
    """Where a browser step ended: a page of the front door (its HTML), or a URL elsewhere
    (the application's redirect URI) with ``page`` empty."""

    url: str
    page: str = ""


async def visit(
    browser: aiohttp.ClientSession,
    origin: str,
    method: str,
    url: str,
    form: dict[str, str] | None = None,
) -> tuple[Arrival | None, str | None]:
    """One browser step: the request, then the redirects within ``origin`` (GET, as a
    browser follows 302 and 303), until a page or a redirect away from ``origin``."""
    for _ in range(MAX_REDIRECTS):
        try:
            async with browser.request(method, url, data=form, allow_redirects=False) as resp:
                text = await resp.text()
                location = resp.headers.get("Location")
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{method} {urlsplit(url).path}: {type(exc).__name__}: {exc}"
        if status in (302, 303) and location:
            url = urljoin(url, location)
            if not url.startswith(f"{origin}/"):
                return Arrival(url), None
            method, form = "GET", None
            continue
        if status != 200:
            return None, f"{method} {urlsplit(url).path}: HTTP {status}: {text[:200]}"
        return Arrival(url, text), None
    return None, f"more than {MAX_REDIRECTS} redirects from {urlsplit(url).path}"


_FORM = re.compile(r'<form\b[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input\b[^>]*type="hidden"[^>]*>')
_ATTRIBUTE = re.compile(r'\b(name|value)="([^"]*)"')


def hidden_fields(page: str, action: str) -> dict[str, str] | None:
    """The hidden fields (the CSRF token, the waiting request's id) of the page's form that
    posts to ``action``; None when the page has no such form."""
    for found in _FORM.finditer(page):
        if html.unescape(found.group(1)) != action:
            continue
        fields: dict[str, str] = {}
        for tag in _HIDDEN.findall(found.group(2)):
            attributes = {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(tag)}
            if "name" in attributes:
                fields[attributes["name"]] = attributes.get("value", "")
        return fields
    return None


def _page_name(arrival: Arrival) -> str:
    return arrival.url if not arrival.page else f"{urlsplit(arrival.url).path} (a page)"


@dataclass
class FrontDoorFlow:
    """A complete authorization-code flow through the front door by a new browser (its own
    cookie jar: no SSO session, so a login each time), for employees taken in turn; with
    ``totp``, the practice requires two factors and each (employee, time step) is used once.
    Its steps are timed (:class:`Steps`): ``authorize``, ``password`` (with ``totp``:
    ``factor``, ``totp``), ``token``; the flow's latency is theirs together."""

    web_url: str
    app: App
    practice: str
    password: str
    users: list[tuple[str, str]]
    totp: bool
    steps: Steps = field(default_factory=Steps)
    _totp_steps: TotpSteps = field(init=False)
    _turn: int = 0

    def __post_init__(self) -> None:
        self._totp_steps = TotpSteps(self.users)

    def part(self, index: int, count: int) -> FrontDoorFlow:
        users = self.users[index::count]
        return FrontDoorFlow(self.web_url, self.app, self.practice, self.password, users, self.totp)

    def _employee(self) -> tuple[str, str, int | None] | None:
        if self.totp:
            return self._totp_steps.next()
        username, secret = self.users[self._turn % len(self.users)]
        self._turn += 1
        return username, secret, None

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        chosen = self._employee()
        if chosen is None:
            await asyncio.sleep(0.05)
            return "no unused time step left: raise --users"
        async with aiohttp.ClientSession(
            connector=session.connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=session.timeout,
        ) as browser:
            return await self._flow(browser, *chosen)

    async def _flow(
        self, browser: aiohttp.ClientSession, username: str, secret: str, step: int | None
    ) -> str | None:
        verifier, challenge = pkce()
        state = secrets.token_urlsafe(12)
        query = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": self.app.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        began = time.monotonic()
        at, failure = await visit(
            browser, self.web_url, "GET", f"{self.web_url}/authorize?{urlencode(query)}"
        )
        if at is None:
            return failure
        self.steps.done("authorize", began)
        login = {"practice": self.practice, "username": username, "password": self.password}
        at, failure = await self._post(browser, at, "/login", login, "password")
        if at is not None and step is not None:
            at, failure = await self._post(
                browser, at, "/login/factor", {"factor": "totp"}, "factor"
            )
            if at is not None:
                code = {"code": otp.totp_at_step(secret, step)}
                at, failure = await self._post(browser, at, "/login/verify", code, "totp")
        if at is None:
            return failure
        return await self._token(browser, at, state, verifier)

    async def _post(
        self,
        browser: aiohttp.ClientSession,
        at: Arrival,
        action: str,
        values: dict[str, str],
        step: str,
    ) -> tuple[Arrival | None, str | None]:
        """Fill in and send the page's form that posts to ``action``."""
        hidden = hidden_fields(at.page, action)
        if hidden is None:
            return None, f"{step}: no form to {action} at {_page_name(at)}"
        began = time.monotonic()
        arrived, failure = await visit(
            browser, self.web_url, "POST", f"{self.web_url}{action}", {**hidden, **values}
        )
        if arrived is not None:
            self.steps.done(step, began)
        return arrived, failure

    async def _token(
        self, browser: aiohttp.ClientSession, at: Arrival, state: str, verifier: str
    ) -> str | None:
        """The code from the redirect to the application, redeemed at the front door."""
        if at.page or not at.url.startswith(f"{self.app.redirect_uri}?"):
            return f"the login ended at {_page_name(at)}, not at the application"
        answer = {k: v[0] for k, v in parse_qs(urlsplit(at.url).query).items()}
        if "code" not in answer or answer.get("state") != state:
            return f"no code for this request: {at.url[:200]}"
        began = time.monotonic()
        _, failure = await request_json(
            browser,
            "POST",
            f"{self.web_url}/token",
            exchange_form(self.app, answer["code"], verifier),
            self.app.basic(),
            "id_token",
        )
        if failure is None:
            self.steps.done("token", began)
        return failure


async def front_door_ready(web_url: str) -> bool:
    """Whether the front door serves the provider (its discovery document)."""
    url = f"{web_url}/.well-known/openid-configuration"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status == 200


async def _check(flow: FrontDoorFlow) -> None:
    """One flow end to end before measuring, by an employee the load does not use."""
    async with aiohttp.ClientSession() as session:
        failure = await flow.once(session)
    if failure is not None:
        raise RuntimeError(f"front-door flow failed: {failure}")


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Load:
    """The load's options, as every phase uses them."""

    seconds: float
    concurrency: int
    processes: int
    warmup: float

    def run(self, stack: Stack, scenario: Scenario) -> tuple[LoadResult, CpuMeter]:
        meter = stack_meter(stack)
        load = run_load(
            scenario, self.seconds, self.concurrency, self.processes, self.warmup, meter
        )
        ensure_alive(stack)
        return load, meter


@dataclass(frozen=True)
class ServerTime:
    """Auth's own account of a token request (``tweestap_oidc_seconds``, by grant type):
    the mean time inside its handler over a phase."""

    total_s: float
    count: float

    @classmethod
    def read(cls, stack: Stack, grant_type: str) -> ServerTime:
        label = f'endpoint="{grant_type}"'
        return cls(
            server_counter(stack.ops_url, "tweestap_oidc_seconds_sum", label),
            server_counter(stack.ops_url, "tweestap_oidc_seconds_count", label),
        )

    def mean_ms_since(self, before: ServerTime) -> float | None:
        count = self.count - before.count
        return round((self.total_s - before.total_s) / count * 1000, 3) if count else None


#: Whose CPU a phase's per server core-second figure divides by: auth's, or at the front
#: door auth's and the web's.
AUTH, AUTH_AND_WEB = ("server",), ("server", "web")


def per_server_core(
    noun: str, load: LoadResult, meter: CpuMeter, seconds: float, servers: tuple[str, ...]
) -> dict[str, Any]:
    """A phase of requests: how many, per second, per server core-second (``servers``'
    CPU together), the server CPU each took and the latency."""
    server = sum(meter.seconds.get(name, 0.0) for name in servers)
    return {
        noun: load.ok,
        f"{noun}_per_s": round(load.ok / seconds, 1),
        f"{noun}_per_server_core_s": round(load.ok / server, 1) if server > 0 else None,
        "server_cpu_ms_each": round(server * 1000 / load.ok, 3) if load.ok else None,
        "latency_ms": latency_summary(load),
        "errors": load.errors,
        "error_samples": load.error_samples,
        "cpu_s_during_load": meter.seconds,
    }


def flow_figures(
    load: LoadResult,
    meter: CpuMeter,
    seconds: float,
    raw: RawArgon2,
    argon2_ms: float | None,
) -> dict[str, Any]:
    """A front-door phase: flows per second and per CPU-second of auth and the web, against
    raw argon2id; the server's CPU per flow split by process, and argon2id's share."""
    auth, web = meter.seconds.get("server", 0.0), meter.seconds.get("web", 0.0)
    server = auth + web
    per_cpu_s = load.ok / server if server > 0 else 0.0

    def per_flow(cpu_s: float) -> float | None:
        return round(cpu_s * 1000 / load.ok, 2) if load.ok else None

    return {
        "flows": load.ok,
        "flows_per_s": round(load.ok / seconds, 2),
        "flows_vs_raw_argon2": round(load.ok / seconds / raw.per_s, 3) if raw.per_s else None,
        "flows_per_server_cpu_s": round(per_cpu_s, 2),
        "flows_vs_raw_argon2_per_cpu_s": round(per_cpu_s / raw.per_cpu_s, 3),
        "server_cpu_ms_per_flow": {
            "auth": per_flow(auth),
            "web": per_flow(web),
            "auth_argon2": argon2_ms,
        },
        "latency_ms": latency_summary(load),
        "steps_ms": step_latencies(load),
        "errors": load.errors,
        "error_samples": load.error_samples,
        "cpu_s_during_load": meter.seconds,
    }


def token_phase(
    stack: Stack,
    load: Load,
    scenario: CodeExchange | RefreshChains,
    noun: str,
    servers: tuple[str, ...],
) -> dict[str, Any]:
    """A phase at the token endpoint, with auth's own mean time in its handler."""
    grant_type = "authorization_code" if isinstance(scenario, CodeExchange) else "refresh_token"
    before = ServerTime.read(stack, grant_type)
    done, meter = load.run(stack, scenario)
    figures = per_server_core(noun, done, meter, load.seconds, servers)
    figures["auth_handler_mean_ms"] = ServerTime.read(stack, grant_type).mean_ms_since(before)
    return figures


def token_requests(stack: Stack, load: Load, app: App, sso_token: str) -> dict[str, Any]:
    """The phases of codes and tokens: authorize, exchange and refresh at auth, and refresh
    through the front door (``/token``, relayed to auth by the SDK)."""
    assert stack.web is not None
    auth = stack.base_url
    log(f"authorize: {load.seconds:g} s, concurrency {load.concurrency} (codes for exchange)")
    minter = MintCodes(f"{auth}/v1/oidc/authorizations", sso_token, app)
    meter = stack_meter(stack, clients=[os.getpid()])  # this process is the load generator
    minted = run_load_here(minter, load.seconds, load.concurrency, load.warmup, meter)
    ensure_alive(stack)
    figures = {"authorize": per_server_core("authorizations", minted, meter, load.seconds, AUTH)}
    log(f"exchange: {len(minter.codes)} codes")
    exchange = CodeExchange(f"{auth}/v1/oidc/token", app, minter.codes)
    figures["exchange"] = token_phase(stack, load, exchange, "exchanges", AUTH)
    for name, url, servers in (
        ("refresh", f"{auth}/v1/oidc/token", AUTH),
        ("refresh_front_door", f"{stack.web.url}/token", AUTH_AND_WEB),
    ):
        log(f"{name}: {load.concurrency} chains")
        chains = asyncio.run(_grants(stack, app, sso_token, load.concurrency))
        figures[name] = token_phase(
            stack, load, RefreshChains(url, app, chains), "refreshes", servers
        )
    return figures


def through_front_door(
    stack: Stack, load: Load, app: App, users: list[tuple[str, str]], raw: RawArgon2
) -> dict[str, Any]:
    """The flows through the front door: password only, then with TOTP. The last employee
    checks each kind of flow once before it is measured; the load takes the others."""
    assert stack.web is not None
    figures: dict[str, Any] = {}
    for totp in (False, True):
        name = "flow_totp" if totp else "flow_password"
        if totp:
            asyncio.run(require_two_factors(stack, len(users)))
        web, practice, password = stack.web.url, stack.practice, stack.password
        asyncio.run(_check(FrontDoorFlow(web, app, practice, password, users[-1:], totp)))
        log(f"{name}: {load.seconds:g} s, concurrency {load.concurrency}")
        hashed_before = HashShare.read(stack.ops_url)
        flow = FrontDoorFlow(web, app, practice, password, users[:-1], totp)
        done, meter = load.run(stack, flow)
        argon2_ms = HashShare.read(stack.ops_url).per_login_ms(hashed_before)
        figures[name] = flow_figures(done, meter, load.seconds, raw, argon2_ms)
    return figures


def main(argv: list[str]) -> int:
    parser = base_parser("oidc", __doc__ or "")
    parser.add_argument("--argon2-seconds", type=float, default=5.0, help="raw argon2 run")
    parser.add_argument(
        "--users", type=int, default=1000, help="employees (each TOTP step is used once)"
    )
    parser.add_argument("--id-token-alg", choices=["RS256", "EdDSA"], default="RS256")
    parser.add_argument("--auth-only", action="store_true", help="no logins through the front door")
    parser.add_argument(
        "--profile",
        type=Path,
        help="a folder for auth's and the web's cProfile statistics (slower figures)",
    )
    args = parser.parse_args(argv)
    if args.seconds + args.warmup > MAX_CODE_PHASE_S:
        parser.error(f"codes live 60 s: --seconds + --warmup at most {MAX_CODE_PHASE_S:g}")
    load = Load(args.seconds, args.concurrency, args.processes, args.warmup)
    results: dict[str, Any] = {}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with auth_stack(web=True, profile=args.profile and args.profile.resolve()) as stack:
        assert stack.web is not None
        time.sleep(1.0)
        rss_idle = {"auth": rss_mb(stack.server.pid), "web": rss_mb(stack.web.process.pid)}
        app = asyncio.run(register(stack, args.id_token_alg))
        sso_token = login_once(stack)["token"]["token"]
        results.update(token_requests(stack, load, app, sso_token))
        if args.auth_only:
            results["front_door"] = "not measured (--auth-only)"
        elif not asyncio.run(front_door_ready(stack.web.url)):
            results["front_door"] = "pending: the web front door does not serve the provider yet"
        else:
            users = asyncio.run(two_factor_practice(stack, args.users, two_factor_required=False))
            raw = measure_raw(stack, args.argon2_seconds, os.cpu_count() or 1)
            results["raw_argon2"] = {
                "verify_per_s": round(raw.per_s, 2),
                "verify_per_cpu_s": round(raw.per_cpu_s, 2),
                "cpu_ms": round(1000 / raw.per_cpu_s, 2) if raw.per_cpu_s else None,
                "cpu_s_during_raw_argon2": raw.cpu_s,
            }
            results.update(through_front_door(stack, load, app, users, raw))
        rss_after = {"auth": rss_mb(stack.server.pid), "web": rss_mb(stack.web.process.pid)}
    report(
        "oidc",
        {
            **load_parameters(args),
            "argon2": {
                "memory_kib": stack.settings.argon2_memory_kib,
                "time_cost": stack.settings.argon2_time_cost,
                "parallelism": stack.settings.argon2_parallelism,
            },
            "argon2_raw_seconds": args.argon2_seconds,
            "argon2_raw_threads": os.cpu_count() or 1,
            "users": args.users,
            "id_token_alg": args.id_token_alg,
            "client": "client_secret_basic, PKCE S256, one redirect URI",
            "profiled": args.profile is not None,
        },
        results,
        {"rss_idle_mb": rss_idle, "rss_after_mb": rss_after},
        _targets(results),
        note=NOTE,
    )
    return 0


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    def figure(phase: str, key: str) -> float | None:
        found = results.get(phase)
        return found.get(key) if isinstance(found, dict) else None

    targets = {
        "exchanges_per_server_core_s": target(
            figure("exchange", "exchanges_per_server_core_s"),
            TOKEN_REQUESTS_PER_CORE_S,
            at_least=True,
        ),
        "refreshes_per_server_core_s": target(
            figure("refresh", "refreshes_per_server_core_s"),
            TOKEN_REQUESTS_PER_CORE_S,
            at_least=True,
        ),
        "front_door_refreshes_per_server_core_s": target(
            figure("refresh_front_door", "refreshes_per_server_core_s"),
            TOKEN_REQUESTS_PER_CORE_S,
            at_least=True,
        ),
    }
    if "flow_password" in results:
        targets["password_flow_vs_raw_argon2_per_cpu_s"] = target(
            figure("flow_password", "flows_vs_raw_argon2_per_cpu_s"),
            FLOW_VS_ARGON2_PER_CPU_S,
            at_least=True,
        )
    return targets
