"""Asking whether a certificate is revoked: its OCSP responders, then its CRLs, over HTTP
(aiohttp), each answer kept until its ``nextUpdate`` (per process, bounded). What an answer
says is decided in :mod:`services.auth.domain.card_revocation`; here only fetching, time
limits and the cache."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509

from services.auth.domain import card_revocation as revocation
from services.auth.domain.card_revocation import Answer, NoAnswer

log = logging.getLogger(__name__)

Verdict = Literal["good", "revoked", "unavailable"]
#: Answers kept at most (least recently used dropped first).
MAX_CACHED = 10_000


@dataclass(frozen=True)
class Outcome:
    """What revocation checking found for one certificate."""

    verdict: Verdict
    source: str | None = None


class _Cache:
    """Answers and CRLs until their ``nextUpdate``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[datetime, object]] = OrderedDict()

    def get(self, key: str, now: datetime) -> object | None:
        found = self._items.get(key)
        if found is None:
            return None
        until, value = found
        if until <= now:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: str, until: datetime, value: object) -> None:
        self._items[key] = (until, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class RevocationChecker:
    """One per process: ``outcome(cert, issuer)`` asks (or remembers) whether ``cert`` is
    revoked. Every answer is verified before it counts or is cached."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        timeout_seconds: float,
        max_crl_bytes: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.http = http
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_crl_bytes = max_crl_bytes
        self.clock = clock
        self._cache = _Cache(MAX_CACHED)
        self._crl_fetches: dict[str, asyncio.Future[bytes]] = {}

    async def outcome(self, cert: x509.Certificate, issuer: x509.Certificate) -> Outcome:
        """OCSP first (fresher), then the CRLs; the first verified answer decides."""
        now = self.clock()
        key = revocation.ocsp_key(cert, issuer)
        cached = self._cache.get(f"ocsp:{key}", now)
        if isinstance(cached, Answer):
            return Outcome(cached.status, "ocsp (cached)")
        for url in revocation.ocsp_urls(cert):
            answer = await self._ocsp(url, cert, issuer)
            if answer is not None:
                self._cache.put(f"ocsp:{key}", answer.until, answer)
                return Outcome(answer.status, "ocsp")
        for url in revocation.crl_urls(cert):
            answer = await self._crl(url, cert, issuer)
            if answer is not None:
                return Outcome(answer.status, "crl")
        return Outcome("unavailable")

    async def _ocsp(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate
    ) -> Answer | None:
        request = revocation.ocsp_request(cert, issuer)
        try:
            async with self.http.post(
                url,
                data=request.der,
                headers={"Content-Type": "application/ocsp-request"},
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    raise NoAnswer(f"HTTP {response.status}")
                body = await response.content.read(64 * 1024)
            return revocation.ocsp_answer(body, cert, issuer, self.clock(), request.nonce)
        except (aiohttp.ClientError, TimeoutError, NoAnswer) as error:
            log.warning("OCSP responder %s gave no answer: %s", _host(url), _reason(error))
            return None

    async def _crl(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate
    ) -> Answer | None:
        now = self.clock()
        cached = self._cache.get(f"crl:{url}", now)
        if isinstance(cached, x509.CertificateRevocationList) and cached.issuer == issuer.subject:
            return revocation.crl_answer(cached, cert, now)
        try:
            data = await self._fetch_crl(url)
            crl = revocation.read_crl(data, issuer, self.clock())
        except (aiohttp.ClientError, TimeoutError, NoAnswer) as error:
            log.warning("CRL %s gave no answer: %s", _host(url), _reason(error))
            return None
        answer = revocation.crl_answer(crl, cert, self.clock())
        self._cache.put(f"crl:{url}", answer.until, crl)
        return answer

    async def _fetch_crl(self, url: str) -> bytes:
        """One download per URL at a time: logins that need the same CRL wait for it."""
        running = self._crl_fetches.get(url)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._crl_fetches[url] = future
        try:
            data = await self._download(url)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._crl_fetches.pop(url, None)
        future.set_result(data)
        return data

    async def _download(self, url: str) -> bytes:
        async with self.http.get(url, timeout=self.timeout, allow_redirects=False) as response:
            if response.status != 200:
                raise NoAnswer(f"HTTP {response.status}")
            data = await response.content.read(self.max_crl_bytes + 1)
        if len(data) > self.max_crl_bytes:
            raise NoAnswer("larger than TWEESTAP_CARD_MAX_CRL_BYTES")
        return data


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__
