"""Argon2id hashing off the event loop (services.auth.adapters.hasher), with small parameters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.auth.adapters.hasher import Hasher


@pytest.fixture
def hasher() -> Iterator[Hasher]:
    h = Hasher(memory_kib=8 * 1024, time_cost=1, parallelism=1, workers=2)
    yield h
    h.close()


async def test_hash_is_argon2id_and_verifies(hasher: Hasher) -> None:
    hashed = await hasher.hash("Lange-Zin-Met-Koffie-93")
    assert hashed.startswith("$argon2id$")
    assert "Lange-Zin" not in hashed
    assert await hasher.verify(hashed, "Lange-Zin-Met-Koffie-93")
    assert not await hasher.verify(hashed, "lange-zin-met-koffie-93")
    assert await hasher.hash("Lange-Zin-Met-Koffie-93") != hashed  # salted


async def test_unknown_user_never_verifies(hasher: Hasher) -> None:
    assert not await hasher.verify(None, "")
    assert not await hasher.verify(None, "anything")


async def test_malformed_hash_does_not_verify(hasher: Hasher) -> None:
    assert not await hasher.verify("not-a-hash", "anything")


async def test_matches_any(hasher: Hasher) -> None:
    history = [await hasher.hash(p) for p in ("oud-1", "oud-2", "oud-3")]
    assert await hasher.matches_any(history, "oud-2")
    assert not await hasher.matches_any(history, "nieuw")
    assert not await hasher.matches_any([], "oud-1")
