"""A test Dezi: panva's ``oidc-provider`` under Node.js (tests/peers/dezi-provider.mjs, pinned
in tests/peers/package-lock.json, installed by ``make peers``), an OpenID Provider Tweestap
did not write, issuing Dezi's claims for the accounts in tests/peers/accounts.json. Started
once per test module on a port of 18800-18899; what it does wrong next is set with
:meth:`TestDezi.mode` (its test control)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.auth.adapters.upstream import UpstreamConfig
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, pool, wait_for
from tests.support.oidc import free_port_in
from tests.support.sdk import web_zone
from tests.support.tokens import knows_tokens_of

PEERS = Path(__file__).resolve().parents[1] / "peers"
#: The ports of the Dezi tests: the test Dezi, and the web the browser tests serve.
PORTS = range(18800, 18900)
CLIENT_ID, CLIENT_SECRET = "tweestap", "tweestap-test-secret"
#: A second registration: ``private_key_jwt`` and signed userinfo (Dezi's "verklaring").
KEY_CLIENT_ID = "tweestap-key"
CALLBACK = "/login/dezi/callback"
ACCOUNTS: dict[str, dict[str, Any]] = json.loads((PEERS / "accounts.json").read_text())
#: The URA the accounts jansen, devries, visser and smit act for (bakker for another).
URA = "87654321"
OTHER_URA = "12345678"


def number_of(account: str) -> str:
    claims = ACCOUNTS[account]
    return str(claims.get("dezi_nummer") or claims["Dezi_id"])


def callbacks() -> list[str]:
    """Every redirect URI a test web may have (its port is one of :data:`PORTS`)."""
    return [f"http://localhost:{port}{CALLBACK}" for port in PORTS]


def client_key() -> dict[str, Any]:
    """A private RSA JWK for ``private_key_jwt``."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private))
    return {**jwk, "kid": "tweestap-test", "alg": "RS256"}


def public_jwk(jwk: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jwk[k] for k in ("kty", "n", "e", "kid", "alg")}


@dataclass
class TestDezi:
    __test__ = False  # a test double named for what it is, not a test class to collect

    issuer: str
    key: dict[str, Any]
    process: subprocess.Popen[bytes]

    def settings(self, key_client: bool = False, **more: Any) -> dict[str, Any]:
        """Auth's ``dezi_*`` settings for this provider (``key_client``: the registration
        with ``private_key_jwt`` and signed userinfo)."""
        if key_client:
            found: dict[str, Any] = {
                "dezi_client_id": KEY_CLIENT_ID,
                "dezi_client_auth": "private_key_jwt",
                "dezi_client_key": json.dumps(self.key),
            }
        else:
            found = {"dezi_client_id": CLIENT_ID, "dezi_client_secret": CLIENT_SECRET}
        return {"dezi_issuer": self.issuer, "dezi_timeout_seconds": 3.0, **found, **more}

    def config(self, redirect_uri: str, key_client: bool = False, **more: Any) -> UpstreamConfig:
        """The provider as auth's :class:`UpstreamConfig` (for tests of its adapter alone)."""
        settings = self.settings(key_client)
        return UpstreamConfig(
            name="dezi",
            display_name="Dézi",
            issuer=self.issuer,
            client_id=settings["dezi_client_id"],
            client_auth=settings.get("dezi_client_auth", "client_secret_basic"),
            redirect_uri=redirect_uri,
            scopes=("openid",),
            prompt="login",
            minimum_level="high",
            login_seconds=600,
            keep_seconds=3600,
            timeout_seconds=3.0,
            leeway_seconds=30,
            client_secret=CLIENT_SECRET,
            client_key=self.key if key_client else None,
            **more,
        )

    async def mode(self, mode: str) -> None:
        """What the provider does wrong from now on: ``normal``, ``foreign-jwks`` (its JWKS
        another key), ``tamper`` (a claim of the ID token changed after signing),
        ``wrong-nonce`` (the authorization request's nonce replaced), ``token-down`` (the
        token endpoint answers 503), ``down`` (everything answers 503)."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.issuer}/_test/mode", data={"mode": mode}) as answer,
        ):
            assert answer.status == 200, await answer.text()

    async def log_in(self, authorization_url: str, account: str) -> dict[str, str]:
        """A person at the provider's pages (over HTTP, as a browser would): the
        authorization request, the login page, ``account`` chosen; the query the provider
        sends the browser back with (``code``, ``state``, ``iss``, or ``error``)."""
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            url = authorization_url
            posted = False
            for _ in range(10):
                data = {"account": account} if posted else None
                method = "POST" if posted else "GET"
                async with http.request(method, url, data=data, allow_redirects=False) as answer:
                    location = answer.headers.get("Location")
                    if location is None:
                        if answer.status == 200 and "/interaction/" in url and not posted:
                            url, posted = f"{url}/login", True
                            continue
                        raise AssertionError(f"{answer.status} at {url}: {await answer.text()}")
                posted = False
                url = urljoin(url, location)
                if url.startswith(self.issuer):
                    continue
                return dict(parse_qsl(urlsplit(url).query))
        raise AssertionError("the provider never sent the browser back")


@dataclass
class DeziSite:
    """Zone a's auth (the test Dezi's relying party, if there is one) and enrolment, the
    administrator known to both and logged in at auth, for a web on ``port`` (one of
    :data:`PORTS`) whose issuer is ``issuer``."""

    auth: Zone
    enrol: Zone
    admin: str
    admin_token: str
    zone: dict[str, str]
    port: int
    issuer: str

    async def enrolment(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Enrolment's API, as the administrator."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        response = await self.enrol.client.request(method, path, json=body, headers=headers)
        return response.status, await response.json(content_type=None)


async def start_dezi_site(
    cluster: Cluster, dezi: TestDezi | None, practice: str = "fysio"
) -> DeziSite:
    """A :class:`DeziSite` in ``cluster``; without ``dezi``, auth has no Dezi."""
    taken = () if dezi is None else (urlsplit(dezi.issuer).port or 0,)
    port = free_port_in(PORTS, taken=taken)
    issuer = f"http://localhost:{port}"
    auth = await cluster.start("a", issuer=issuer, **(dezi.settings() if dezi else {}))
    enrol = await cluster.start("a", "enrolment", issuer=issuer)
    admin = await cluster.bootstrap(auth, practice)

    await wait_for(functools.partial(knows_tokens_of, pool(enrol), auth, None, admin))
    status, body = await login(auth, practice, "admin", ADMIN_PASSWORD)
    assert status == 200, body
    token = body["token"]["token"]
    return DeziSite(auth, enrol, admin, token, web_zone(auth, enrol), port, issuer)


def node() -> str:
    found = shutil.which("node")
    if found is None or not (PEERS / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "the test Dezi needs Node.js and tests/peers/node_modules: run `make peers`"
        )
    return found


@contextmanager
def test_dezi() -> Iterator[TestDezi]:
    """The test Dezi, on a free port of :data:`PORTS`, until the block ends."""
    key = client_key()
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": callbacks(),
            "token_endpoint_auth_method": "client_secret_basic",
        },
        {
            "client_id": KEY_CLIENT_ID,
            "redirect_uris": callbacks(),
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks": {"keys": [public_jwk(key)]},
            "userinfo_signed_response_alg": "RS256",
        },
    ]
    port = free_port_in(PORTS)
    issuer = f"http://localhost:{port}"
    env = {
        **os.environ,
        "DEZI_PORT": str(port),
        "DEZI_ISSUER": issuer,
        "DEZI_CLIENTS": json.dumps(clients),
        "DEZI_TEST_CONTROL": "1",
    }
    process = subprocess.Popen(
        [node(), str(PEERS / "dezi-provider.mjs")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(issuer, process)
        yield TestDezi(issuer, key, process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# A helper, not a test (its name starts with ``test_``).
test_dezi.__test__ = False  # type: ignore[attr-defined]


def _wait_for(issuer: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test Dezi exited with {process.returncode}")
        try:
            with urllib.request.urlopen(  # noqa: S310 (a local test server)
                f"{issuer}/.well-known/openid-configuration", timeout=1
            ) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the test Dezi did not start")
