"""Tweestap as the relying party of an upstream OpenID Provider (Dezi; docs/adr/0014) — pure,
no I/O: the sealed login request (:class:`Ticket`), the authorization request's parameters,
and the checks an ID token and a userinfo answer must pass beyond their signatures.

A login at the upstream is authorization code + PKCE (S256), with ``state`` and ``nonce``. Auth
makes all three and seals them, with what the login is for, into a ticket the web keeps in its
sealed session while the browser is at the upstream; the browser's answer (code, state, iss)
comes back through the web with the ticket. So nothing is stored between the two steps, and
either zone can finish what the other began (the sealing keys are the deployment's)."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash

from shared.sealing import Keyring, SealingError

Purpose = Literal["login", "link"]
PURPOSES: tuple[Purpose, ...] = ("login", "link")
#: The asymmetric algorithms an upstream's tokens may be signed with (never ``none``, never a
#: shared-secret HMAC): the intersection with what its discovery document says it uses.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class Refused(Exception):
    """The upstream's answer does not prove who logged in (the reason, never a secret)."""


class TicketRefused(Exception):
    """The login request is not this deployment's, is damaged, used for another purpose or
    provider, or past its time."""


@dataclass(frozen=True)
class Ticket:
    """What a login at the upstream needs back: its ``state``, ``nonce`` and PKCE
    ``verifier``, what it is for, when it was made and until when it may come back; a link
    names the session and employee it links for."""

    provider: str
    purpose: Purpose
    state: str
    nonce: str
    verifier: str
    issued_at: int
    expires_at: int
    practice: str | None = None
    employee: str | None = None
    sid: str | None = None

    @classmethod
    def new(
        cls,
        provider: str,
        purpose: Purpose,
        now: int,
        life: int,
        practice: str | None = None,
        employee: str | None = None,
        sid: str | None = None,
    ) -> Ticket:
        return cls(
            provider,
            purpose,
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            issued_at=now,
            expires_at=now + life,
            practice=practice,
            employee=employee,
            sid=sid,
        )

    def seal(self, keyring: Keyring) -> str:
        body = {
            "u": self.purpose,
            "s": self.state,
            "n": self.nonce,
            "v": self.verifier,
            "i": self.issued_at,
            "e": self.expires_at,
            **({"p": self.practice, "m": self.employee, "d": self.sid} if self.employee else {}),
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        return keyring.seal(raw, _aad(self.provider))

    @classmethod
    def open(cls, keyring: Keyring, sealed: str, provider: str, now: int) -> Ticket:
        """The ticket in ``sealed`` for ``provider``; :class:`TicketRefused` otherwise."""
        try:
            body = json.loads(keyring.open(sealed, _aad(provider)))
            ticket = cls(
                provider,
                _purpose(body["u"]),
                state=str(body["s"]),
                nonce=str(body["n"]),
                verifier=str(body["v"]),
                issued_at=int(body["i"]),
                expires_at=int(body["e"]),
                practice=_optional(body.get("p")),
                employee=_optional(body.get("m")),
                sid=_optional(body.get("d")),
            )
        except (SealingError, ValueError, KeyError, TypeError):
            raise TicketRefused("not a login request of this deployment") from None
        if now > ticket.expires_at:
            raise TicketRefused("the login request has expired")
        return ticket

    def answers(self, state: str) -> bool:
        """Whether the upstream's ``state`` is this ticket's (in constant time)."""
        return hmac.compare_digest(self.state.encode(), state.encode())


def _aad(provider: str) -> str:
    return f"upstream-ticket:{provider}"


def _purpose(value: object) -> Purpose:
    for purpose in PURPOSES:
        if value == purpose:
            return purpose
    raise ValueError("unknown purpose")


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def authorization_url(
    endpoint: str,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...],
    ticket: Ticket,
    prompt: str = "",
) -> str:
    """The authorization request the browser takes to the upstream: code + PKCE (S256),
    ``state`` and ``nonce``; ``openid`` is always among the scopes."""
    wanted = ("openid", *(s for s in scopes if s != "openid"))
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(dict.fromkeys(wanted)),
        "state": ticket.state,
        "nonce": ticket.nonce,
        "code_challenge": create_s256_code_challenge(ticket.verifier),
        "code_challenge_method": "S256",
        **({"prompt": prompt} if prompt else {}),
    }
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"


def signing_algorithms(published: object) -> tuple[str, ...]:
    """The algorithms the upstream says it signs with that Tweestap accepts (RS256 when it
    says nothing: OpenID Connect Discovery's default for ID tokens)."""
    if published is None:
        return ("RS256",)
    if not isinstance(published, list):
        return ()
    return tuple(alg for alg in published if isinstance(alg, str) and alg in ASYMMETRIC)


def check_id_token(
    claims: Mapping[str, Any],
    ticket: Ticket,
    client_id: str,
    access_token: str | None,
    alg: str,
    leeway: int,
) -> None:
    """OpenID Connect Core §3.1.3.7 beyond signature, ``iss``, ``aud`` and ``exp`` (which the
    signature check did): a subject, ``azp`` when it is there or needed, the ticket's
    ``nonce``, issued after the login began, and ``at_hash`` when it is there."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise Refused("the ID token names no subject")
    audience = claims.get("aud")
    azp = claims.get("azp")
    if isinstance(audience, list) and len(audience) > 1 and azp is None:
        raise Refused("the ID token has several audiences and no azp")
    if azp is not None and azp != client_id:
        raise Refused("the ID token was issued to another client (azp)")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), ticket.nonce.encode()):
        raise Refused("the ID token's nonce is not this login's")
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or issued < ticket.issued_at - leeway:
        raise Refused("the ID token was issued before this login began")
    at_hash = claims.get("at_hash")
    if at_hash is not None and (
        access_token is None
        or not isinstance(at_hash, str)
        or not hmac.compare_digest(at_hash.encode(), _half_hash(access_token, alg).encode())
    ):
        raise Refused("the ID token's at_hash does not fit the access token")


def _half_hash(token: str, alg: str) -> str:
    digest = create_half_hash(token, alg)
    return "" if digest is None else digest.decode() if isinstance(digest, bytes) else str(digest)


def merged_claims(
    id_token: Mapping[str, Any], userinfo: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The person's claims: the ID token's, and userinfo's beside them. Userinfo must be about
    the same subject (Core §5.3.2) and may not contradict the signed ID token."""
    merged = dict(id_token)
    if userinfo is None:
        return merged
    if userinfo.get("sub") != id_token.get("sub"):
        raise Refused("userinfo is about another subject than the ID token")
    for name, value in userinfo.items():
        if name in ("iss", "aud", "exp", "iat", "nbf", "jti"):
            continue
        if name in merged and merged[name] != value:
            raise Refused(f"userinfo contradicts the ID token ({name[:40]})")
        merged[name] = value
    return merged
