"""Renaming one's own passkey (issue 25), on real PostgreSQL, the broker and auth in both zones:
through the API (``PATCH /v1/factors/{id}``: the name in the sealed credential, replicated on
``factors``; another employee's, an unknown, a factor without a name and a bad name refused,
changing nothing) and on the web's factors page. A passkey is registered by the software
authenticator (``tests/support/softkey.py``), as a browser would post it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from shared.events import factor_aad, utcnow
from tests.integration.test_own_factors import jan_on_the_web, text
from tests.support.cluster import KEYRING, Cluster, Zone, slug, wait_for
from tests.support.enrolment import (
    PIET,
    P,
    Rig,
    enrol_login,
    enrol_totp,
    start,
    two_factor_practice,
)
from tests.support.mail import SmtpSink
from tests.support.site import Sites, post
from tests.support.softkey import SoftAuthenticator


@pytest.fixture
async def rig(cluster: Cluster, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    """A practice requiring two factors; Piet has not enrolled yet."""
    async for started in start(cluster, smtp_sink):
        await two_factor_practice(started)
        yield started


async def passkey(rig: Rig, token: str, name: str) -> str:
    status, made = await rig.call("POST", "/v1/factors/passkey/options", token, {})
    assert status == 200, made
    credential = SoftAuthenticator().register(made["options"])
    body = {"registration_id": made["registration_id"], "credential": credential, "name": name}
    status, added = await rig.call("POST", "/v1/factors/passkey", token, body)
    assert status == 201, added
    return str(added["factor_id"])


async def name_at_auth(zone: Zone, factor_id: str) -> str | None:
    sealed = await zone.auth.pool.fetchval(
        "SELECT sealed FROM factors WHERE practice = $1 AND id = $2", P, factor_id
    )
    if sealed is None:
        return None
    body: dict[str, Any] = json.loads(KEYRING.open(sealed, factor_aad(P, PIET, factor_id)))
    return str(body["name"])


async def test_an_employee_renames_their_own_passkey_in_both_zones(rig: Rig) -> None:
    zone_b = await rig.cluster.start("b")
    await enrol_totp(rig, (await enrol_login(rig))[1])
    piet = rig.token(PIET)
    factor_id = await passkey(rig, piet, "Mijn telefoon")
    status, listed = await rig.call("GET", "/v1/factors", piet)
    assert status == 200 and listed[0]["name"] == "Mijn telefoon", listed
    totp_id = next(f["factor_id"] for f in listed if f["kind"] == "totp")

    # Refused, and nothing changes: another employee (the administrator) naming Piet's
    # passkey, an unknown factor, a malformed id, the app (no name), bad names.
    path = f"/v1/factors/{factor_id}"
    refusals: list[tuple[str, str, Any, int, str]] = [
        (rig.admin2(), path, {"name": "Van mij"}, 403, "forbidden"),
        (piet, "/v1/factors/passkey.0000000000000000", {"name": "X"}, 404, "not-found"),
        (piet, "/v1/factors/no%20such", {"name": "X"}, 404, "not-found"),
        (piet, f"/v1/factors/{totp_id}", {"name": "Telefoon"}, 409, "factor-not-named"),
        (piet, path, {"name": ""}, 422, "invalid-request"),
        (piet, path, {"name": "x" * 101}, 422, "invalid-request"),
        (piet, path, {"name": None}, 422, "invalid-request"),
        (piet, path, {}, 422, "invalid-request"),
        (piet, path, {"name": "Sleutel", "kind": "totp"}, 422, "invalid-request"),
    ]
    for token, where, body, expected, problem in refusals:
        status, answer = await rig.call("PATCH", where, token, body)
        assert (status, slug(answer)) == (expected, problem), (where, body, answer)
    assert (await rig.call("GET", "/v1/factors", piet))[1] == listed, "nothing changed"

    # A name changes no way of logging in: a login of long ago may rename.
    stale = rig.token(PIET, auth_time=utcnow() - timedelta(hours=3))
    status, named = await rig.call("PATCH", path, stale, {"name": "Beveiligingssleutel"})
    assert status == 200, named
    assert named["factor_id"] == factor_id and named["name"] == "Beveiligingssleutel"
    status, now_listed = await rig.call("GET", "/v1/factors", piet)
    assert now_listed[0] == {**listed[0], "name": "Beveiligingssleutel"}, now_listed
    assert now_listed[1:] == listed[1:]
    # A password-only session may not.
    status, answer = await rig.call(
        "PATCH", path, rig.token(PIET, aal="aal1", amr=("pwd",)), {"name": "Y"}
    )
    assert status in (401, 403), answer

    # Replicated: auth in both zones holds the renamed credential, still active and the same key.
    for zone in (rig.auth, zone_b):

        async def renamed(zone: Zone = zone) -> bool:
            return await name_at_auth(zone, factor_id) == "Beveiligingssleutel"

        await wait_for(renamed, what=f"the new name at auth {zone.settings.zone}")
        active = await zone.auth.pool.fetchval(
            "SELECT active FROM factors WHERE practice = $1 AND id = $2", P, factor_id
        )
        assert active is True


def renames(page: str) -> list[str]:
    return re.findall(r'href="/factors/([^/"]+)/name"', page)


async def test_the_factors_page_renames_a_passkey(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web, _, token = await jan_on_the_web(site)
    story, enrolment = site.story, site.story.enrolment
    status, made = await story.call(enrolment, "POST", "/v1/factors/passkey/options", token)
    assert status == 200, made
    credential = SoftAuthenticator().register(made["options"])
    status, added = await story.call(
        enrolment,
        "POST",
        "/v1/factors/passkey",
        token,
        registration_id=made["registration_id"],
        credential=credential,
        name="Laptop",
    )
    assert status == 201, added
    factor_id = added["factor_id"]

    page = await text(await web.get("/factors"))
    assert renames(page) == [factor_id], "only a passkey has a name"
    assert 'aria-label="Naam van Laptop wijzigen"' in page, page
    form = await web.get(f"/factors/{factor_id}/name")
    html = await text(form)
    assert form.status == 200 and "<h1>Naam van de passkey wijzigen</h1>" in html, html
    assert 'value="Laptop"' in html, html

    # An empty name: refused on the page, in Dutch; the name stays.
    refused = await post(web, f"/factors/{factor_id}/name", name="   ")
    html = await text(refused)
    assert refused.status == 400 and "<title>Fout: " in html, html
    assert "Vul een naam in van 1 tot 100 tekens." in html, html
    assert "<td>Laptop</td>" in await text(await web.get("/factors"))

    done = await post(web, f"/factors/{factor_id}/name", name="Werklaptop")
    html = await text(done)
    assert done.url.path == "/factors" and "De naam is gewijzigd." in html, html
    assert "<td>Werklaptop</td>" in html and "<td>Laptop</td>" not in html, html
    # Someone else's or an unknown factor: back to the list, nothing done.
    unknown = await post(web, "/factors/passkey.0000000000000000/name", name="X")
    assert unknown.url.path == "/factors"
