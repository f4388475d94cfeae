"""Revocation of cards against real peers: OpenSSL's OCSP responder and a CRL over HTTP; an
answer is cached until its nextUpdate, a forged or unreachable one is no answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509

from services.auth.adapters.card_revocation import RevocationChecker
from services.auth.domain import card_revocation
from services.dev import cards
from tests.support import card_pki
from tests.support.card_pki import CardPki

pytestmark = pytest.mark.skipif(card_pki.openssl() is None, reason="openssl is not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardPki]:
    yield card_pki.hierarchy_with_cards(Path(tmp_path_factory.mktemp("cards")))


@pytest.fixture
async def peers(pki: CardPki) -> AsyncIterator[CardPki]:
    async with card_pki.crl_server(pki), card_pki.ocsp_responder(pki):
        yield pki


@pytest.fixture
async def checker() -> AsyncIterator[RevocationChecker]:
    async with aiohttp.ClientSession() as http:
        yield RevocationChecker(http, 3.0, 1024 * 1024, lambda: datetime.now(UTC))


def _issuer(pki: CardPki) -> x509.Certificate:
    return pki.hierarchy.ca.cert


async def test_each_source_says_good_or_revoked(peers: CardPki, checker: RevocationChecker) -> None:
    issuer = _issuer(peers)
    cases = {
        "good": ("good", "ocsp"),
        "good_crl_only": ("good", "crl"),
        "revoked_crl": ("revoked", "crl"),
        "revoked_ocsp": ("revoked", "ocsp"),
        "ocsp_unreachable": ("unavailable", None),
        "no_revocation_source": ("unavailable", None),
    }
    for name, (verdict, source) in cases.items():
        found = await checker.outcome(peers.cards[name].cert, issuer)
        assert (found.verdict, found.source) == (verdict, source), name


async def test_answers_are_cached_until_next_update(
    pki: CardPki, checker: RevocationChecker
) -> None:
    issuer = _issuer(pki)
    async with card_pki.crl_server(pki), card_pki.ocsp_responder(pki):
        assert (await checker.outcome(pki.cards["good"].cert, issuer)).verdict == "good"
        assert (await checker.outcome(pki.cards["revoked_crl"].cert, issuer)).verdict == "revoked"
    # Both peers are gone: the cached answers still count, within their nextUpdate.
    again = await checker.outcome(pki.cards["good"].cert, issuer)
    assert again == card_pki_outcome("good", "ocsp (cached)")
    assert (await checker.outcome(pki.cards["good_crl_only"].cert, issuer)).verdict == "good"
    # Past nextUpdate (the responder's -nmin 10, the CRL's hour) nothing is believed.
    checker.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    later = await checker.outcome(pki.cards["good"].cert, issuer)
    assert later.verdict == "unavailable"


def card_pki_outcome(verdict: str, source: str) -> object:
    from services.auth.adapters.card_revocation import Outcome

    return Outcome(verdict, source)  # type: ignore[arg-type]


async def test_a_crl_of_another_ca_or_forged_is_no_answer(pki: CardPki) -> None:
    now = datetime.now(UTC)
    issuer = _issuer(pki)
    own = pki.hierarchy.crl([])
    assert card_revocation.read_crl(own, issuer, now).issuer == issuer.subject
    forged = pki.other.crl([])  # the other CA's CRL, another issuer name and key
    with pytest.raises(card_revocation.NoAnswer):
        card_revocation.read_crl(forged, issuer, now)
    stale = pki.hierarchy.crl([], now=now - timedelta(days=2))
    with pytest.raises(card_revocation.NoAnswer, match="out of date"):
        card_revocation.read_crl(stale, issuer, now)
    with pytest.raises(card_revocation.NoAnswer):
        card_revocation.read_crl(b"garbage", issuer, now)


async def test_an_ocsp_response_for_another_request_or_signer_is_no_answer(
    peers: CardPki,
) -> None:
    """A response the other CA's responder signed, or one for another card, is refused."""
    good, revoked = peers.cards["good"].cert, peers.cards["revoked_ocsp"].cert
    issuer = _issuer(peers)
    request = card_revocation.ocsp_request(revoked, issuer)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{peers.ocsp_port}/",
            data=request.der,
            headers={"Content-Type": "application/ocsp-request"},
        ) as response,
    ):
        body = await response.read()
    now = datetime.now(UTC)
    assert (
        card_revocation.ocsp_answer(body, revoked, issuer, now, request.nonce).status == "revoked"
    )
    with pytest.raises(card_revocation.NoAnswer, match="not about this certificate"):
        card_revocation.ocsp_answer(body, good, issuer, now, None)
    with pytest.raises(card_revocation.NoAnswer, match="nonce"):
        card_revocation.ocsp_answer(body, revoked, issuer, now, b"another nonce....")
    # The same response presented as if from the other hierarchy's CA: its signer is no
    # responder that CA delegated to.
    other_ca = peers.other.ca.cert
    with pytest.raises(card_revocation.NoAnswer):
        card_revocation.ocsp_answer(body, revoked, other_ca, now, None)


def test_where_a_card_says_to_ask(pki: CardPki) -> None:
    good = pki.cards["good"].cert
    assert card_revocation.crl_urls(good) == [pki.hierarchy.crl_url]
    assert card_revocation.ocsp_urls(good) == [pki.hierarchy.ocsp_url]
    assert card_revocation.crl_urls(pki.cards["revoked_ocsp"].cert) == []
    assert isinstance(cards.CA_OIDS["Z"], str)
