"""The card login at auth (UZI-pas, PKIoverheid; ADR 0013) for clients other than a browser: a
challenge, its nonce signed with the card's key, on real PostgreSQL and the broker, the card's
revocation asked of OpenSSL's OCSP responder and a CRL over HTTP. A good card logs in at level
high (``acr``, the ``login.succeeded`` event); every other card is refused with its problem
type and no session. The browser's way through nginx is tests/integration/test_card_tls.py's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from tweestap_client import TweestapClient, TweestapError

from services.dev.cards import Issued
from shared.assurance import LOA
from shared.sealing import generate_key
from tests.support import card_pki
from tests.support.bus import events, of_type
from tests.support.card_pki import PRACTICE, CardPki
from tests.support.cluster import Cluster, Zone
from tests.support.factors import claims_of

pytestmark = pytest.mark.skipif(card_pki.openssl() is None, reason="openssl is not installed")

STATEMENT_KEYS = f"c1:{generate_key()}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardPki]:
    yield card_pki.hierarchy_with_cards(Path(tmp_path_factory.mktemp("cards")))


@pytest.fixture
async def peers(pki: CardPki) -> AsyncIterator[CardPki]:
    async with card_pki.crl_server(pki), card_pki.ocsp_responder(pki):
        yield pki


async def card_zone(cluster: Cluster, pki: CardPki, **settings: Any) -> Zone:
    return await card_pki.card_auth(cluster, pki, STATEMENT_KEYS, **settings)


async def card_login(
    zone: Zone, card: Issued, practice: str | None = PRACTICE, chain: str = ""
) -> tuple[int, dict[str, Any]]:
    """Challenge, signature: auth's answer."""
    asked = await zone.client.post("/v1/card-login/challenge", json={"practice": practice})
    assert asked.status == 200, await asked.text()
    challenge = await asked.json()
    body = {
        "practice": practice,
        "challenge": challenge["challenge"],
        "certificate": card.pem + chain,
        "signature": card_pki.sign_nonce(card, challenge["nonce"]),
    }
    answer = await zone.client.post("/v1/card-login", json=body)
    return answer.status, await answer.json(content_type=None)


def refused(answer: tuple[int, dict[str, Any]], status: int, slug: str) -> None:
    assert answer[0] == status, answer
    assert answer[1]["type"].endswith(f"/{slug}"), answer
    assert "token" not in answer[1]


async def test_a_good_card_logs_in_at_level_high(cluster: Cluster, peers: CardPki) -> None:
    zone = await card_zone(cluster, peers)
    status, token = await card_login(zone, peers.cards["good"])
    assert status == 200, token
    claims = await claims_of(zone, token["token"])
    assert claims["acr"] == LOA["high"] == "http://eidas.europa.eu/LoA/high"
    assert claims["practice"] == PRACTICE
    assert set(claims["amr"]) == {"sc", "hwk", "pin"}
    found = await events(
        cluster, zone, "auth.events", of_type("login.succeeded", means="uzi-pas", level="high")
    )
    assert found[0]["data"]["amr"] == ["sc", "hwk", "pin"]
    # Revocation by CRL alone (no OCSP address on the card) is an answer too.
    await card_pki.relink(zone, "900012346")
    status, token = await card_login(zone, peers.cards["good_crl_only"])
    assert status == 200, token


async def test_refused_cards_get_their_problem_and_no_session(
    cluster: Cluster, peers: CardPki
) -> None:
    zone = await card_zone(cluster, peers)
    cases = {
        "revoked_ocsp": (401, "certificate-revoked"),
        "revoked_crl": (401, "certificate-revoked"),
        "expired": (401, "certificate-expired"),
        "wrong_ca": (401, "untrusted-certificate"),
        "signature_key": (401, "wrong-key-usage"),
        "malformed_san": (401, "malformed-certificate"),
        "ocsp_unreachable": (503, "revocation-unavailable"),
        "no_revocation_source": (503, "revocation-unavailable"),
        "other_ura": (403, "card-wrong-organisation"),
        "unlinked": (403, "card-not-linked"),
    }
    for name, (status, slug) in cases.items():
        refused(await card_login(zone, peers.cards[name]), status, slug)
    # No login was recorded (a session's start is one: ``last_logins``).
    assert await zone.auth.pool.fetchval("SELECT count(*) FROM last_logins") == 0


async def test_a_signature_of_another_key_or_a_spent_challenge_is_refused(
    cluster: Cluster, peers: CardPki
) -> None:
    zone = await card_zone(cluster, peers)
    good, other = peers.cards["good"], peers.cards["unlinked"]
    asked = await (await zone.client.post("/v1/card-login/challenge", json={})).json()
    body = {
        "practice": None,
        "challenge": asked["challenge"],
        "certificate": good.pem,
        "signature": card_pki.sign_nonce(other, asked["nonce"]),
    }
    answer = await zone.client.post("/v1/card-login", json=body)
    refused((answer.status, await answer.json()), 401, "invalid-signature")
    # The nonce was good for that one try.
    body["signature"] = card_pki.sign_nonce(good, asked["nonce"])
    answer = await zone.client.post("/v1/card-login", json=body)
    refused((answer.status, await answer.json()), 409, "challenge-required")
    # Bad input is a 4xx: no body, half a body, both ways at once, garbage certificate.
    for bad in (
        {},
        {"challenge": "x"},
        {"statement": "x", "challenge": "x", "certificate": "x", "signature": "x"},
        {"challenge": "x", "certificate": "not a certificate", "signature": "AAAA"},
    ):
        answer = await zone.client.post("/v1/card-login", json=bad)
        assert 400 <= answer.status < 500, (bad, answer.status)


async def test_the_card_says_which_practice_when_the_login_names_none(
    cluster: Cluster, peers: CardPki
) -> None:
    zone = await card_zone(cluster, peers)
    status, token = await card_login(zone, peers.cards["good"], practice=None)
    assert status == 200, token
    assert (await claims_of(zone, token["token"]))["practice"] == PRACTICE


async def test_without_a_revocation_answer_only_if_the_deployment_accepts_it(
    cluster: Cluster, peers: CardPki
) -> None:
    zone = await card_zone(cluster, peers, card_revocation_unavailable="accept")
    await card_pki.relink(zone, "900077777")
    status, token = await card_login(zone, peers.cards["ocsp_unreachable"])
    assert status == 200, token
    assert (await claims_of(zone, token["token"]))["acr"] == LOA["high"]
    # A revoked card stays refused: "accept" is for no answer, not for a bad one.
    refused(await card_login(zone, peers.cards["revoked_ocsp"]), 401, "certificate-revoked")


async def test_the_sdk_signs_a_challenge_in_the_zone_that_gave_it(
    cluster: Cluster, peers: CardPki
) -> None:
    zone = await card_zone(cluster, peers)
    card = peers.cards["good"]
    dead = "http://127.0.0.1:9"  # a zone that refuses every connection, tried after zone a
    async with TweestapClient([str(zone.client.make_url("")).rstrip("/"), dead]) as client:
        challenge = await client.card_challenge(PRACTICE)
        assert challenge.zone == 0 and challenge.nonce.startswith("tweestap-card-v1:")
        signature = card_pki.sign_nonce(card, challenge.nonce)
        await client.card_login(challenge=challenge, certificate=card.pem, signature=signature)
        token = client.token
        assert token is not None
        assert (await claims_of(zone, token))["acr"] == LOA["high"]
        # A refused card is the service's problem, not a zone failure.
        again = await client.card_challenge(PRACTICE)
        revoked = peers.cards["revoked_ocsp"]
        with pytest.raises(TweestapError) as refusal:
            await client.card_login(
                challenge=again,
                certificate=revoked.pem,
                signature=card_pki.sign_nonce(revoked, again.nonce),
            )
        assert refusal.value.slug == "certificate-revoked"
