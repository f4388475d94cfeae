"""Auth's card login routes (UZI-pas, PKIoverheid; ADR 0013) and what they are built from: the
trust store read once at start, one HTTP session for OCSP and CRL requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web

from services.auth.adapters.card_revocation import RevocationChecker
from services.auth.api import TokenResponse
from services.auth.api_cards import CardChallengeRequest, CardChallengeResponse, CardLoginRequest
from services.auth.card_settings import CardSettings
from services.auth.domain.card_chain import TrustStore
from services.auth.use_cases.card_login import CardChecks, CardLogin, off
from services.auth.use_cases.means_login import MeansLogin
from shared.events import utcnow
from shared.http import HandlerFn, Route, json_response, parse_body
from shared.sealing import Keyring

CARD_LOGIN = web.AppKey("card_login", CardLogin)


def _card_login(request: web.Request) -> CardLogin:
    found = request.app.get(CARD_LOGIN)
    if found is None:
        raise off()
    return found


async def challenge(request: web.Request) -> web.Response:
    body = await parse_body(request, CardChallengeRequest)
    return json_response(await _card_login(request).challenge(body.practice))


async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, CardLoginRequest)
    card_login = _card_login(request)
    if body.statement is not None:
        token = await card_login.with_statement(body.practice, body.statement, body.level)
    else:
        assert body.challenge and body.certificate and body.signature  # the model
        token = await card_login.with_signature(
            body.practice, body.challenge, body.certificate, body.signature, body.level
        )
    return json_response(token)


def routes(limited: Callable[[HandlerFn], HandlerFn]) -> tuple[Route, ...]:
    """The routes, each within the login budget of the caller's address (``limited``)."""
    return (
        Route(
            "POST",
            "/v1/card-login/challenge",
            limited(challenge),
            "A nonce for practice software to sign with a UZI-pas or PKIoverheid certificate",
            CardChallengeRequest,
            CardChallengeResponse,
            errors=(422, 429),
        ),
        Route(
            "POST",
            "/v1/card-login",
            limited(login),
            "Log in with a UZI-pas or PKIoverheid certificate: the web front door's statement "
            "of a browser's client-certificate TLS, or a signed challenge",
            CardLoginRequest,
            TokenResponse,
            errors=(401, 403, 409, 422, 429, 503),
        ),
    )


def context(
    settings: CardSettings,
    pool: Callable[[web.Application], Any],
    means: Callable[[web.Application], MeansLogin],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that builds the card login once auth is up (after ``pool`` and
    ``means`` can be read from the app); nothing when no trust store is configured."""

    async def cards_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.card_logins:
            yield
            return
        store = TrustStore.from_pem(path.read_bytes() for path in settings.card_trust_store)
        keys = settings.card_statement_keys.get_secret_value()
        async with aiohttp.ClientSession() as http:
            checks = CardChecks(
                store,
                RevocationChecker(
                    http,
                    settings.card_revocation_timeout_seconds,
                    settings.card_max_crl_bytes,
                    utcnow,
                ),
                settings.card_revocation_unavailable,
            )
            app[CARD_LOGIN] = CardLogin(
                pool(app),
                checks,
                means(app),
                Keyring.parse(keys) if keys else None,
                settings.card_statement_seconds,
                settings.card_challenge_seconds,
            )
            yield

    return cards_ctx
