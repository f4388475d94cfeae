"""``python -m bench.floor_server PORT``: what this machine does at all for a request shaped
like a renewal, for ``tweestap bench renew --floor``. One aiohttp handler on uvloop, with no
middleware, metrics, session or liveness: it reads the bearer header, signs the claims a
renewal signs (the same names and sizes, a fresh ``jti``) with an Ed25519 key through PyJWT,
and answers them as JSON. Tweestap's renewal per server CPU-second divided by this one's is the
share of the work that is the platform's (HTTP, Python, the signature): the rest is Tweestap's.
"""

from __future__ import annotations

import secrets
import sys
import time

import jwt
import uvloop
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_KEY = Ed25519PrivateKey.generate()
#: The claims of a session's access token (names and sizes as Tweestap's), shared by the
#: login floor (bench/login_floor_server.py).
SESSION_CLAIMS = {
    "iss": "http://127.0.0.1:8000",
    "aud": "tweestap",
    "client_id": "tweestap",
    "sub": "0f9c2a4e-3c1d-4f7e-9a55-6d2b8e1f0a31",
    "practice": "floor-practice",
    "rg": 2,
    "sid": "5b0e8a3fd2c64e0f9d1a7c2e4b6f8a90",
    "amr": ["pwd", "otp"],
    "acr": "http://eidas.europa.eu/LoA/substantial",
    "aal": "aal2",
    "zone": "a",
    "scope": "session",
}


async def renew(request: web.Request) -> web.Response:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        raise web.HTTPUnauthorized()
    now = int(time.time())
    claims = {
        **SESSION_CLAIMS,
        "auth_time": now - 60,
        "sst": now - 60.123456,
        "iat": now,
        "exp": now + 3600,
        "jti": secrets.token_hex(16),
    }
    token = jwt.encode(claims, _KEY, algorithm="EdDSA", headers={"kid": "a-floor", "typ": "at+jwt"})
    return web.json_response({"token": token, "expires_at": now + 3600, "renew_after": now + 1800})


def main(port: int) -> None:
    app = web.Application()
    app.router.add_post("/v1/tokens/renew", renew)
    loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main(int(sys.argv[1]))
