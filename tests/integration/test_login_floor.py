"""The bare login server of ``tweestap bench login --floor`` does the work it stands for: a
floor that skipped argon2id or the session's row would flatter the platform and make
Tweestap's share look larger than it is."""

from __future__ import annotations

import secrets

import aiohttp
import asyncpg
import jwt

from bench.harness import argon2id
from bench.login_floor import environment, prepare, serving
from services.auth.settings import AuthSettings
from services.dev.infra import Postgres, free_port

PASSWORD = "floor-password-right"


async def test_the_floor_checks_the_password_and_records_each_session(postgres: Postgres) -> None:
    database = f"floor_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres.dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    settings = AuthSettings(
        database_url=postgres.dsn(database),
        argon2_memory_kib=8 * 1024,
        argon2_time_cost=1,
        hash_workers=1,
    )
    hashed = argon2id(settings).hash(PASSWORD)
    await prepare(settings.database_url, "practice-1", ["alice", "bob"], hashed)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/login"

    def body(username: str, password: str) -> dict[str, str]:
        return {"practice": "practice-1", "username": username, "password": password}

    with serving(port, environment(settings)):
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=body("alice", PASSWORD)) as right:
                assert right.status == 200
                answer = await right.json()
            for refused in (body("alice", "wrong"), body("carol", PASSWORD)):
                async with session.post(url, json=refused) as resp:
                    assert resp.status == 401
    claims = jwt.decode(answer["token"]["token"], options={"verify_signature": False})
    assert claims["practice"] == "practice-1"
    conn = await asyncpg.connect(settings.database_url)
    try:
        sessions = await conn.fetch("SELECT id, practice, username FROM bench_floor.sessions")
    finally:
        await conn.close()
    assert [tuple(s) for s in sessions] == [(claims["sid"], "practice-1", "alice")]
