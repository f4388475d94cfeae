"""A password refused as too weak says why, in Dutch and English (Hardening II finding 20):
the Dutch dictionaries and the practice's name are what auth enforces."""

from __future__ import annotations

from tests.support.cluster import Cluster, Zone
from tests.support.practices import admin_token, put_password


async def test_too_weak_password_says_why(cluster: Cluster) -> None:
    zone: Zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)  # at "Fysio Jansen"
    token = await admin_token(zone)
    status, body = await put_password(zone, token, "fysio", employee, "FysioJansen2026", False)
    assert status == 422 and body["type"].endswith("/password-too-weak"), body
    assert body["strength"] < body["min_strength"]
    assert [reason["code"] for reason in body["reasons"]] == ["practice-name", "year"]
    assert body["reasons"][0]["nl"] == "Bevat de naam van de praktijk."
    assert body["detail"].endswith(
        "Contains the practice's name. A year does not make it stronger."
    )
    # A Dutch word with digits was strong enough for the English dictionaries.
    status, body = await put_password(zone, token, "fysio", employee, "Voorjaar2025", False)
    assert status == 422 and [r["code"] for r in body["reasons"]] == ["word", "year"], body
