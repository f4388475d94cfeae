"""An upstream OpenID Provider (Dezi) as auth reaches it: its discovery document and key set
(kept a while), the code redeemed at its token endpoint with the client's authentication, its
ID tokens and signed userinfo verified against its key set with the algorithms it publishes
(PyJWT), and userinfo read. No redirects are followed, every answer is bounded, and nothing
it sends or is sent is logged."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlsplit

import aiohttp
import jwt

from services.auth.dezi_settings import LOCAL_HOSTS, ClientAuth
from services.auth.domain.upstream import Refused, signing_algorithms
from shared.assurance import Level

log = logging.getLogger(__name__)
#: The most an answer of the upstream may hold (bytes).
MAX_ANSWER = 256 * 1024
#: An ID token naming a key not in the set held fetches the set again at most this often.
REFETCH_SECONDS = 60.0
#: A client assertion (``private_key_jwt``) is valid this long.
ASSERTION_SECONDS = 60


class UpstreamUnavailable(Exception):
    """The upstream cannot be reached, or answers what no working provider would (its
    metadata unusable, a 5xx, a timeout, this client refused): the login cannot go on now."""


class CodeRefused(Exception):
    """The token endpoint refused the code (spent, expired, not this client's): start again."""


@dataclass(frozen=True)
class UpstreamConfig:
    """One upstream provider as the deployment configured it (for Dezi: ``TWEESTAP_DEZI_*``)."""

    name: str
    display_name: str
    issuer: str
    client_id: str
    client_auth: ClientAuth
    redirect_uri: str
    scopes: tuple[str, ...]
    prompt: str
    minimum_level: Level
    login_seconds: int
    keep_seconds: float
    timeout_seconds: float
    leeway_seconds: int
    client_secret: str = field(default="", repr=False)
    #: ``private_key_jwt``: the private JWK.
    client_key: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Metadata:
    """What Tweestap uses of the upstream's discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    id_token_algorithms: tuple[str, ...]
    userinfo_algorithms: tuple[str, ...]
    #: RFC 9207: the upstream names itself (``iss``) in every authorization response.
    iss_parameter: bool = False

    @classmethod
    def read(cls, document: object, issuer: str) -> Metadata:
        """The metadata of ``document``; ValueError when it is not ``issuer``'s or lacks what a
        code flow needs (OpenID Connect Discovery §4.3: its issuer must be the one asked)."""
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            raise ValueError("the discovery document is not the configured issuer's")
        userinfo = document.get("userinfo_endpoint")
        algorithms = signing_algorithms(document.get("id_token_signing_alg_values_supported"))
        if not algorithms:
            raise ValueError("the upstream signs ID tokens with no algorithm accepted here")
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ValueError("the upstream does not support PKCE with S256")
        return cls(
            authorization_endpoint=_endpoint(document.get("authorization_endpoint")),
            token_endpoint=_endpoint(document.get("token_endpoint")),
            jwks_uri=_endpoint(document.get("jwks_uri")),
            userinfo_endpoint=None if userinfo is None else _endpoint(userinfo),
            id_token_algorithms=algorithms,
            userinfo_algorithms=signing_algorithms(
                document.get("userinfo_signing_alg_values_supported", [])
            )
            or algorithms,
            iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
        )


def _endpoint(value: object) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise ValueError("an endpoint is missing")
    url = urlsplit(value)
    if url.scheme == "https" or (url.scheme == "http" and url.hostname in LOCAL_HOSTS):
        return value
    raise ValueError("an endpoint is not an https URL")


@dataclass(frozen=True)
class Tokens:
    """What the token endpoint answered that Tweestap reads."""

    id_token: str
    access_token: str


@dataclass
class UpstreamProvider:
    config: UpstreamConfig
    _metadata: tuple[Metadata, float] | None = field(default=None, init=False)
    _keys: tuple[tuple[PublicKey, ...], float] | None = field(default=None, init=False)
    _http: aiohttp.ClientSession | None = field(default=None, init=False)

    # -- metadata and keys -----------------------------------------------------------------

    async def metadata(self) -> Metadata:
        """The discovery document, fetched again after ``keep_seconds``."""
        now = time.monotonic()
        if self._metadata is None or now - self._metadata[1] > self.config.keep_seconds:
            document = await self._json("GET", self.config.issuer.rstrip("/") + DISCOVERY)
            try:
                self._metadata = (Metadata.read(document, self.config.issuer), now)
            except ValueError as error:
                log.warning("upstream metadata unusable", extra={"reason": str(error)})
                raise UpstreamUnavailable(str(error)) from None
        return self._metadata[0]

    async def _key(self, kid: str | None, alg: str) -> Any:
        """The key ``kid`` (or the only key) of the upstream's set, for ``alg``; the set is
        fetched again for a key not in it (at most every :data:`REFETCH_SECONDS`)."""
        now = time.monotonic()
        held = self._keys
        if held is None or now - held[1] > self.config.keep_seconds:
            held = await self._fetch_keys(now)
        found = _pick(held[0], kid, alg)
        if found is None and now - held[1] > REFETCH_SECONDS:
            found = _pick((await self._fetch_keys(now))[0], kid, alg)
        if found is None:
            raise Refused("signed with a key the upstream does not publish")
        return found.key

    async def _fetch_keys(self, now: float) -> tuple[tuple[PublicKey, ...], float]:
        document = await self._json("GET", (await self.metadata()).jwks_uri)
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise UpstreamUnavailable("the upstream's key set is not a JWKS")
        self._keys = (tuple(key for jwk in listed if (key := PublicKey.read(jwk))), now)
        return self._keys

    async def verify(
        self, token: str, algorithms: tuple[str, ...], require: tuple[str, ...]
    ) -> tuple[dict[str, Any], str]:
        """The claims of a JWT the upstream signed (an ID token, signed userinfo) and its
        algorithm: one of ``algorithms``, by a key of its set meant for signing, from its
        issuer, for this client, not expired; :class:`Refused` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Refused("not a signed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in algorithms:
            raise Refused(f"signed with {str(alg)[:20]}, which the upstream does not publish")
        key = await self._key(kid if isinstance(kid, str) else None, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": list(require)},
            )
        except jwt.PyJWTError as error:
            raise Refused(f"the token does not verify: {error}") from None
        return claims, alg

    # -- the code and userinfo -------------------------------------------------------------

    async def redeem(self, code: str, verifier: str) -> Tokens:
        """The code (with its PKCE verifier) for tokens at the token endpoint."""
        endpoint = (await self.metadata()).token_endpoint
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": verifier,
        }
        headers: dict[str, str] = {}
        self._authenticate(endpoint, form, headers)
        status, body = await self._send("POST", endpoint, form=form, headers=headers)
        answer = _json_body(body)
        if status in (400, 401) and isinstance(answer, dict):
            error = str(answer.get("error", ""))[:40]
            if error == "invalid_grant":
                raise CodeRefused("the upstream refused the code")
            # invalid_client and the like: this deployment's registration, not the person.
            log.error("upstream refused this client", extra={"reason": error or str(status)})
            raise UpstreamUnavailable(f"the token endpoint answered {error or status}")
        if status != 200 or not isinstance(answer, dict):
            raise UpstreamUnavailable(f"the token endpoint answered {status}")
        id_token, access_token = answer.get("id_token"), answer.get("access_token")
        token_type = str(answer.get("token_type", "")).lower()
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise Refused("the token endpoint gave no ID token")
        if token_type != "bearer":  # noqa: S105 (a token type, not a secret)
            raise Refused("the token endpoint gave no bearer token")
        return Tokens(id_token, access_token)

    def _authenticate(self, endpoint: str, form: dict[str, str], headers: dict[str, str]) -> None:
        """The client's authentication at ``endpoint``, as registered."""
        c = self.config
        if c.client_auth == "client_secret_basic":
            # RFC 6749 §2.3.1: each part form-encoded before Basic's base64.
            headers["Authorization"] = aiohttp.encode_basic_auth(
                quote_plus(c.client_id), quote_plus(c.client_secret)
            )
        elif c.client_auth == "client_secret_post":
            form.update(client_id=c.client_id, client_secret=c.client_secret)
        else:
            form.update(
                client_id=c.client_id,
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=self._assertion(endpoint),
            )

    def _assertion(self, audience: str) -> str:
        """RFC 7523 client assertion signed with the client's private key."""
        assert self.config.client_key is not None
        jwk = dict(self.config.client_key)
        now = int(time.time())
        claims = {
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "aud": audience,
            "jti": secrets.token_urlsafe(24),
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        }
        key = jwt.PyJWK(jwk)
        return jwt.encode(claims, key.key, algorithm=str(jwk["alg"]), headers={"kid": jwk["kid"]})

    async def userinfo(self, access_token: str) -> dict[str, Any] | None:
        """Userinfo for ``access_token`` (None when the upstream has no userinfo endpoint):
        JSON, or a JWT it signed (verified like an ID token)."""
        metadata = await self.metadata()
        if metadata.userinfo_endpoint is None:
            return None
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        status, body, content_type = await self._send_typed(
            "GET", metadata.userinfo_endpoint, headers=headers
        )
        if status != 200:
            raise UpstreamUnavailable(f"userinfo answered {status}")
        if content_type == "application/jwt":
            claims, _ = await self.verify(
                body.decode(errors="replace").strip(),
                metadata.userinfo_algorithms,
                ("sub", "iss", "aud"),
            )
            return claims
        answer = _json_body(body)
        if not isinstance(answer, dict):
            raise UpstreamUnavailable("userinfo is not a JSON object")
        return answer

    # -- HTTP ------------------------------------------------------------------------------

    async def _json(self, method: str, url: str) -> Any:
        status, body = await self._send(method, url)
        if status != 200:
            raise UpstreamUnavailable(f"{status} from the upstream")
        answer = _json_body(body)
        if answer is None:
            raise UpstreamUnavailable("the upstream's answer is not JSON")
        return answer

    async def _send(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        status, body, _ = await self._send_typed(method, url, form, headers)
        return status, body

    async def _send_typed(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes, str]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        try:
            async with self._http.request(
                method,
                url,
                data=None if form is None else dict(form),
                headers=dict(headers or {}),
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                body = await response.content.read(MAX_ANSWER + 1)
                content_type = response.content_type
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("upstream unreachable", extra={"reason": type(error).__name__})
            raise UpstreamUnavailable("the upstream cannot be reached") from None
        if len(body) > MAX_ANSWER:
            raise UpstreamUnavailable("the upstream's answer is too large")
        if status >= 500:
            raise UpstreamUnavailable(f"{status} from the upstream")
        return status, body, content_type

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


DISCOVERY = "/.well-known/openid-configuration"


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass(frozen=True)
class PublicKey:
    """A key of the upstream's set: its id, what it is for, and the key itself."""

    kid: str | None
    kty: str
    use: str | None
    alg: str | None
    key: Any

    @classmethod
    def read(cls, jwk: object) -> PublicKey | None:
        """The public key of ``jwk``; None for anything else (a private or symmetric key, an
        unknown type): it is left out of the set."""
        if not isinstance(jwk, dict) or jwk.get("kty") not in FAMILIES or "d" in jwk:
            return None
        try:
            key = jwt.PyJWK(jwk).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            return None
        kid, use, alg = jwk.get("kid"), jwk.get("use"), jwk.get("alg")
        return cls(
            kid if isinstance(kid, str) else None,
            str(jwk["kty"]),
            use if isinstance(use, str) else None,
            alg if isinstance(alg, str) else None,
            key,
        )

    def fits(self, alg: str) -> bool:
        """Whether this key may verify ``alg``: a signing key, of ``alg`` if it names one,
        else of ``alg``'s family."""
        if self.use not in (None, "sig"):
            return False
        if self.alg is not None:
            return self.alg == alg
        return alg.startswith(FAMILIES[self.kty])


#: The key types the upstream may sign with, and the algorithms of each.
FAMILIES: dict[str, tuple[str, ...]] = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}


def _pick(keys: tuple[PublicKey, ...], kid: str | None, alg: str) -> PublicKey | None:
    """The key ``kid`` for ``alg``, or without a ``kid`` the only key for it."""
    usable = [key for key in keys if key.fits(alg)]
    if kid is None:
        return usable[0] if len(usable) == 1 else None
    return next((key for key in usable if key.kid == kid), None)
