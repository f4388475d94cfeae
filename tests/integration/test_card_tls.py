"""The card login in the browser's way (ADR 0013), through real parts: Debian's nginx terminates
TLS and verifies the client certificate against the UZI test CAs, passing it to the web front
door (``services.web``) in a header; the web, trusting nginx's address only, seals a statement
and auth checks the card (OpenSSL's OCSP responder, a CRL over HTTP) and makes the session. The
client is aiohttp with the card's certificate and key in its TLS context, as a browser with a
card reader would present them. A header from anyone but the proxy is ignored."""

from __future__ import annotations

import base64
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web as aioweb

from services.dev import cards
from services.dev.cards import Issued
from services.web import session as sessions
from services.web.app import create_app
from services.web.settings import WebSettings
from shared.assurance import LOA
from shared.sealing import generate_key
from tests.support import card_pki, nginx
from tests.support.bus import events, of_type
from tests.support.card_pki import PORTS, CardPki
from tests.support.cluster import Cluster, Zone
from tests.support.factors import claims_of
from tests.support.oidc import free_port_in

pytestmark = pytest.mark.skipif(
    card_pki.openssl() is None or nginx.nginx() is None, reason="openssl or nginx missing"
)

STATEMENT_KEYS = f"c1:{generate_key()}"
SESSION_KEY = os.urandom(32)
#: The web trusts nginx's address only; the forger comes from another loopback address.
PROXY = "127.0.0.1"
OUTSIDER = "127.0.0.2"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardPki]:
    yield card_pki.hierarchy_with_cards(Path(tmp_path_factory.mktemp("cards")))


@dataclass
class Front:
    """nginx on ``port`` (https://localhost) in front of the web on ``web_port``."""

    pki: CardPki
    auth: Zone
    port: int
    web_port: int
    tls_ca: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def browser(self, card: Issued | None) -> aiohttp.ClientSession:
        """A browser that trusts the terminator's TLS CA and holds ``card`` (or none)."""
        context = ssl.create_default_context(cafile=str(self.tls_ca))
        if card is not None:
            folder = self.pki.folder
            cert, key = folder / f"{id(card)}.pem", folder / f"{id(card)}.key"
            cert.write_text(card.pem)
            key.write_text(card.key_pem)
            context.load_cert_chain(str(cert), str(key))
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))


@pytest.fixture
async def front(cluster: Cluster, pki: CardPki, tmp_path: Path) -> AsyncIterator[Front]:
    async with card_pki.crl_server(pki), card_pki.ocsp_responder(pki):
        auth = await card_pki.card_auth(cluster, pki, STATEMENT_KEYS)
        web_port = free_port_in(PORTS, (pki.crl_port, pki.ocsp_port, pki.dead_port))
        port = free_port_in(PORTS, (pki.crl_port, pki.ocsp_port, pki.dead_port, web_port))
        settings = WebSettings(
            zones=[{"auth": str(auth.client.make_url("")).rstrip("/")}],
            session_key=base64.b64encode(SESSION_KEY).decode(),
            issuer=f"https://localhost:{port}",
            tls_proxy=True,
            trusted_proxies=[f"{PROXY}/32"],
            card_statement_keys=STATEMENT_KEYS,
        )
        runner = aioweb.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        await aioweb.TCPSite(runner, PROXY, web_port).start()
        tls_ca, server = cards.tls_server(["localhost"])
        (tmp_path / "tls-ca.pem").write_text(tls_ca.pem)
        (tmp_path / "server.pem").write_text(server.pem)
        (tmp_path / "server.key").write_text(server.key_pem)
        try:
            async with nginx.terminator(
                tmp_path / "nginx",
                port,
                f"{PROXY}:{web_port}",
                tmp_path / "server.pem",
                tmp_path / "server.key",
                pki.trust_store,
            ):
                yield Front(pki, auth, port, web_port, tmp_path / "tls-ca.pem")
        finally:
            await runner.cleanup()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def card_login(
    browser: aiohttp.ClientSession, url: str, practice: str = "", headers: Any = None
) -> tuple[int, str, str]:
    """The login page, its UZI-pas link, the card page's button: the answer's status, page and
    where it ended."""
    login = await browser.get(f"{url}/login")
    page = await login.text()
    assert 'href="/login/card"' in page and "Inloggen met UZI-pas" in page
    card_page = await browser.get(f"{url}/login/card")
    assert card_page.status == 200
    answer = await browser.post(
        f"{url}/login/card",
        data={"csrf": csrf_of(await card_page.text()), "practice": practice},
        headers=headers or {},
        allow_redirects=False,
    )
    return answer.status, await answer.text(), answer.headers.get("Location", "")


def session_token(browser: aiohttp.ClientSession) -> str | None:
    cookie = next((c for c in browser.cookie_jar if c.key == sessions.cookie_name(True)), None)
    if cookie is None:
        return None
    opened = sessions.unseal(SESSION_KEY, cookie.value, time.time(), 3600, 3600)
    token = (opened or {}).get("token") or {}
    return token.get("token") if isinstance(token, dict) else None


async def test_a_good_card_logs_in_through_nginx_at_level_high(
    cluster: Cluster, front: Front
) -> None:
    async with front.browser(front.pki.cards["good"]) as browser:
        status, page, path = await card_login(browser, front.url)
        assert (status, path) == (303, "/factors"), page
        token = session_token(browser)
        assert token is not None
        claims = await claims_of(front.auth, token)
        assert claims["acr"] == LOA["high"] == "http://eidas.europa.eu/LoA/high"
        assert claims["practice"] == card_pki.PRACTICE
    found = await events(
        cluster,
        front.auth,
        "auth.events",
        of_type("login.succeeded", means="uzi-pas", level="high"),
    )
    assert found[0]["data"]["amr"] == ["sc", "hwk", "pin"]


async def test_refused_cards_get_a_dutch_page_and_no_session(front: Front) -> None:
    cases = {
        # Refused by auth (the card itself, its revocation, who it names) …
        "revoked_ocsp": (400, "ingetrokken"),
        "revoked_crl": (400, "ingetrokken"),
        "malformed_san": (400, "niet de vorm van een UZI-pas"),
        "ocsp_unreachable": (503, "kan nu niet worden nagegaan"),
        "other_ura": (400, "andere zorgaanbieder"),
        "unlinked": (400, "niet gekoppeld"),
        # … or by nginx's verification already (the web says why).
        "wrong_ca": (400, "niet uitgegeven door het UZI-register"),
        "expired": (400, "verlopen"),
        "signature_key": (400, "niet bedoeld om mee in te loggen"),
    }
    for name, (status, text) in cases.items():
        async with front.browser(front.pki.cards[name]) as browser:
            answer, page, path = await card_login(browser, front.url)
            error = re.search(r'id="error-text">([^<]*)<', page)
            assert (answer, path) == (status, ""), (name, page)
            assert error and text in error.group(1), (name, error and error.group(1))
            assert session_token(browser) is None, name
    assert await front.auth.auth.pool.fetchval("SELECT count(*) FROM last_logins") == 0


async def test_a_forged_certificate_header_is_ignored(front: Front) -> None:
    good = front.pki.cards["good"]
    forged = {"X-SSL-Client-Cert": quote(good.pem), "X-SSL-Client-Verify": "SUCCESS"}
    # Through nginx without a card: nginx replaces both headers (with nothing).
    async with front.browser(None) as browser:
        status, page, _ = await card_login(browser, front.url, headers=forged)
        assert status == 400 and "Er is geen UZI-pas of certificaat ontvangen" in page
        assert session_token(browser) is None
    # Straight to the web from an address that is not the proxy: not believed.
    connector = aiohttp.TCPConnector(local_addr=(OUTSIDER, 0))
    async with aiohttp.ClientSession(connector=connector) as outsider:
        url = f"http://{PROXY}:{front.web_port}"
        card_page = await outsider.get(f"{url}/login/card")
        cookie = card_page.headers["Set-Cookie"].split(";", 1)[0]
        form = {"csrf": csrf_of(await card_page.text()), "practice": ""}
        answer = await outsider.post(
            f"{url}/login/card", data=form, headers={**forged, "Cookie": cookie}
        )
        page = await answer.text()
        assert answer.status == 400 and "Er is geen UZI-pas of certificaat ontvangen" in page
        assert "Set-Cookie" not in answer.headers or "token" not in str(
            sessions.unseal(
                SESSION_KEY,
                answer.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1],
                time.time(),
                3600,
                3600,
            )
        )
    assert await front.auth.auth.pool.fetchval("SELECT count(*) FROM last_logins") == 0
