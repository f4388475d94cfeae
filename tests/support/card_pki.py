"""A UZI-profile PKI for the tests, with real peers: the hierarchy of
:mod:`services.dev.cards`, its CRL served over HTTP by aiohttp, and OpenSSL's own OCSP responder
(``openssl ocsp -index …``) as a subprocess. Ports in 18900-18999."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from services.dev import cards
from services.dev.cards import Card, Hierarchy, Issued
from tests.support.cluster import Cluster, Zone
from tests.support.oidc import free_port_in

PORTS = range(18900, 19000)
PRACTICE = "fysio"
URA = "12345678"
OTHER_URA = "87654321"


def openssl() -> str | None:
    return shutil.which("openssl")


def _wait_for_responder(log: Path, process: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    """Until the responder says it waits for connections (a probe connection would hold its
    one-at-a-time loop)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"openssl ocsp ended: {process.returncode}: {log.read_text()}")
        if "waiting for OCSP client connections" in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError("openssl ocsp is not listening")


@dataclass
class CardPki:
    """A hierarchy and its revocation services, and a set of cards made for the tests."""

    folder: Path
    hierarchy: Hierarchy
    other: Hierarchy
    crl_port: int
    ocsp_port: int
    dead_port: int
    cards: dict[str, Issued] = field(default_factory=dict)
    revoked: list[Issued] = field(default_factory=list)

    @property
    def trust_store(self) -> Path:
        return self.folder / "trust.pem"

    def make(self, name: str, card: Card, revoked: bool = False) -> Issued:
        issued = (self.other if name == "wrong_ca" else self.hierarchy).card(card)
        self.cards[name] = issued
        if revoked:
            self.revoked.append(issued)
        return issued


def hierarchy_with_cards(folder: Path) -> CardPki:
    """The hierarchy, its trust store file, and one card for each case the tests try."""
    crl_port = free_port_in(PORTS)
    ocsp_port = free_port_in(PORTS, (crl_port,))
    dead_port = free_port_in(PORTS, (crl_port, ocsp_port))
    crl_url = f"http://127.0.0.1:{crl_port}/zorgverlener.crl"
    ocsp_url = f"http://127.0.0.1:{ocsp_port}/"
    pki = CardPki(
        folder,
        cards.hierarchy("Test", crl_url, ocsp_url),
        cards.hierarchy("Other", crl_url, ocsp_url),
        crl_port,
        ocsp_port,
        dead_port,
    )
    pki.make("good", Card("900012345", URA))
    pki.make("good_crl_only", Card("900012346", URA, ocsp=False))
    pki.make("employee", Card("900022222", URA, card_type="N", name="Test Medewerker"))
    pki.make("server", Card("900033333", URA, card_type="S", usage="server", name="server.test"))
    pki.make("no_permanent_id", Card("900044444", URA, permanent_identifier=False))
    pki.make("other_ura", Card("900012345", OTHER_URA))
    pki.make("unlinked", Card("900099999", URA))
    pki.make("revoked_crl", Card("900055555", URA, ocsp=False), revoked=True)
    pki.make("revoked_ocsp", Card("900066666", URA, crl=False), revoked=True)
    pki.make("expired", Card("900012345", URA, valid_from=timedelta(days=-400)))
    pki.make("signature_key", Card("900012345", URA, usage="signature"))
    pki.make(
        "malformed_san",
        Card("900012345", URA, subject_id="2.16.528.1.1003.1.3.5.5.2-1-900012345-Q-12345678"),
    )
    pki.make(
        "ocsp_unreachable",
        Card("900077777", URA, crl=False, ocsp_url=f"http://127.0.0.1:{dead_port}/"),
    )
    pki.make("no_revocation_source", Card("900088888", URA, crl=False, ocsp=False))
    pki.make("wrong_ca", Card("900012345", URA))
    folder.mkdir(parents=True, exist_ok=True)
    pki.trust_store.write_text(pki.hierarchy.bundle)
    h = pki.hierarchy
    (folder / "ca.pem").write_text(h.ca.pem)
    (folder / "responder.pem").write_text(h.responder.pem)
    (folder / "responder.key").write_text(h.responder.key_pem)
    (folder / "index.txt").write_text(h.ocsp_index(pki.revoked))
    # Several cards of one holder share a subject.
    (folder / "index.txt.attr").write_text("unique_subject = no\n")
    return pki


@asynccontextmanager
async def crl_server(pki: CardPki) -> AsyncIterator[web.AppRunner]:
    """The CRL of the hierarchy's CA over HTTP (aiohttp), made fresh at each request."""

    async def crl(request: web.Request) -> web.Response:
        data = pki.hierarchy.crl(pki.revoked)
        return web.Response(body=data, content_type="application/pkix-crl")

    app = web.Application()
    app.router.add_get("/zorgverlener.crl", crl)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", pki.crl_port).start()
    try:
        yield runner
    finally:
        await runner.cleanup()


@asynccontextmanager
async def ocsp_responder(pki: CardPki) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``openssl ocsp`` answering for the hierarchy's CA with its delegated responder."""
    binary = openssl()
    assert binary is not None
    folder = pki.folder
    process = subprocess.Popen(  # noqa: ASYNC220 (started once, waited for below)
        [
            binary,
            "ocsp",
            "-index",
            str(folder / "index.txt"),
            "-port",
            str(pki.ocsp_port),
            "-rsigner",
            str(folder / "responder.pem"),
            "-rkey",
            str(folder / "responder.key"),
            "-CA",
            str(folder / "ca.pem"),
            "-nmin",
            "10",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "ocsp.log").open("wb"),
    )
    try:
        await asyncio.to_thread(_wait_for_responder, folder / "ocsp.log", process)
        yield process
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()


def sign_nonce(issued: Issued, nonce: str) -> str:
    """What practice software does with the card's key: RSA-PSS, SHA-256, over the nonce's
    UTF-8 bytes, base64."""
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return base64.b64encode(issued.key.sign(nonce.encode(), pss, hashes.SHA256())).decode()


async def link(owner_dsn: str, practice: str, employee: str, uzi_number: str, ura: str) -> None:
    """The practice's URA and the employee's UZI (Dezi) number in auth's copy of the directory
    (``practices.ura``, ``employees.dezi_number``), as enrolment's directory events set them
    (tests/integration/test_dezi_directory.py goes through enrolment's API)."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute("UPDATE practices SET ura = $2 WHERE id = $1", practice, ura)
        await conn.execute(
            "UPDATE employees SET dezi_number = $3 WHERE practice = $1 AND id = $2",
            practice,
            employee,
            uzi_number,
        )
    finally:
        await conn.close()


async def card_auth(
    cluster: Cluster, pki: CardPki, statement_keys: str, zone: str = "a", **settings: Any
) -> Zone:
    """Auth with the test hierarchy as its trust store and ``statement_keys`` for the web's
    statements; the practice ``fysio`` (URA :data:`URA`) whose administrator has the UZI
    number of the ``good`` card."""
    started = await cluster.start(
        zone,
        card_trust_store=[str(pki.trust_store)],
        card_statement_keys=statement_keys,
        card_revocation_timeout_seconds=2.0,
        **settings,
    )
    employee = await cluster.bootstrap(started, PRACTICE)
    await link(started.settings.database_owner_url, PRACTICE, employee, "900012345", URA)
    return started


async def relink(zone: Zone, uzi_number: str) -> None:
    """The administrator's UZI number is now ``uzi_number`` (another card's)."""
    employee = await zone.auth.pool.fetchval(
        "SELECT id FROM employees WHERE practice = $1", PRACTICE
    )
    await link(zone.settings.database_owner_url, PRACTICE, employee, uzi_number, URA)
