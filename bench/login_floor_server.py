"""``python -m bench.login_floor_server PORT``: what this machine does at all for a password
login, for ``tweestap bench login --floor``. One aiohttp handler on uvloop, with no middleware,
metrics, lockout, login steps, outbox or consumer: it reads the JSON body, reads the employee's
argon2id hash from PostgreSQL (one round trip), verifies it on a pool of hashing threads below
the event loop (as auth's, ``TWEESTAP_HASH_NICENESS``), records the session (one round trip),
signs an access token's claims with Ed25519 through PyJWT and answers it as JSON.

Tweestap's logins per server CPU-second divided by this one's is the share of a login's work
that is the platform's (HTTP, PostgreSQL, argon2id, the signature); the rest is Tweestap's. The
environment names the database (``FLOOR_DSN``, its ``bench_floor`` schema filled by the bench:
:func:`bench.login_floor.prepare`), argon2id's parameters and the hashing threads."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import jwt
import uvloop
from aiohttp import web
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.floor_server import SESSION_CLAIMS

_KEY = Ed25519PrivateKey.generate()
_PH = PasswordHasher(
    time_cost=int(os.environ["FLOOR_ARGON2_TIME_COST"]),
    memory_cost=int(os.environ["FLOOR_ARGON2_MEMORY_KIB"]),
    parallelism=int(os.environ["FLOOR_ARGON2_PARALLELISM"]),
    type=Type.ID,
)
_POOL = web.AppKey("pool", asyncpg.Pool)
_HASHERS = web.AppKey("hashers", ThreadPoolExecutor)
_READ = "SELECT hash FROM bench_floor.credentials WHERE practice = $1 AND username = $2"
_RECORD = (
    "INSERT INTO bench_floor.sessions (id, practice, username, started_at) "
    "VALUES ($1, $2, $3, now())"
)


def _below_the_loop(niceness: int) -> None:
    me = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, me, os.getpriority(os.PRIO_PROCESS, me) + niceness)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _PH.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def login(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    practice, username = body["practice"], body["username"]
    pool = request.app[_POOL]
    hashed = await pool.fetchval(_READ, practice, username)
    loop = asyncio.get_running_loop()
    if hashed is None or not await loop.run_in_executor(
        request.app[_HASHERS], _verify, hashed, body["password"]
    ):
        raise web.HTTPUnauthorized()
    session = secrets.token_hex(16)
    await pool.execute(_RECORD, session, practice, username)
    now = int(time.time())
    claims = {
        **SESSION_CLAIMS,
        "practice": practice,
        "sid": session,
        "auth_time": now,
        "sst": now,
        "iat": now,
        "exp": now + 3600,
        "jti": secrets.token_hex(16),
    }
    token = jwt.encode(claims, _KEY, algorithm="EdDSA", headers={"kid": "a-floor", "typ": "at+jwt"})
    return web.json_response({"token": {"token": token, "expires_at": now + 3600}})


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ready")


async def _resources(app: web.Application) -> AsyncIterator[None]:
    app[_POOL] = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=2, max_size=10)
    app[_HASHERS] = ThreadPoolExecutor(
        max_workers=int(os.environ["FLOOR_HASH_WORKERS"]),
        initializer=_below_the_loop,
        initargs=(int(os.environ["FLOOR_HASH_NICENESS"]),),
    )
    yield
    app[_HASHERS].shutdown(wait=False, cancel_futures=True)
    await app[_POOL].close()


def main(port: int) -> None:
    app = web.Application()
    app.cleanup_ctx.append(_resources)
    app.router.add_post("/v1/login", login)
    app.router.add_get("/ready", ready)
    loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main(int(sys.argv[1]))
