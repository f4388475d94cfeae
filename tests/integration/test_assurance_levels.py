"""Assurance levels end to end (issue 24, DESIGN §12, ADR 0012): a practice's minimum and its
rights groups' set in enrolment reach auth's replica; a login below what applies is stepped up
to a second factor, or refused naming the level when no means it has reaches it; an
application's asked level (``acr_values``) does the same; the session's level is its token's
``acr`` and the audit trail records it. Real auth, enrolment and notifier over PostgreSQL, the
broker and SMTP."""

from __future__ import annotations

from typing import Any

from shared.assurance import LOA, Level
from tests.support.cluster import ADMIN_PASSWORD, wait_for
from tests.support.site import Site, Sites, log_in
from tests.support.story import JAN, JAN_PASSWORD, PRACTICE, claims_of
from tests.support.tokens import session_token

PATH = f"/v1/practices/{PRACTICE}"
TOO_LOW = "https://tweestap.nl/problems/assurance-level-too-low"


async def set_assurance(site: Site, assurance: dict[str, str]) -> dict[str, Any]:
    """The practice's assurance set in enrolment (as the console does), once auth has it."""
    story = site.story
    status, view = await story.call(
        story.enrolment, "PUT", PATH, site.admin_token, assurance=assurance
    )
    assert status == 200, view

    async def at_auth() -> bool:
        found = await site.auth.auth.pool.fetchval(
            "SELECT assurance FROM practices WHERE id = $1", PRACTICE
        )
        return found is not None and all(found.get(k) == v for k, v in assurance.items())

    await wait_for(at_auth, what="the practice's assurance at auth")
    return view


async def login(site: Site, username: str, password: str, **extra: Any) -> tuple[int, Any]:
    response = await site.auth.client.post(
        "/v1/login",
        json={"practice": PRACTICE, "username": username, "password": password, **extra},
    )
    return response.status, await response.json(content_type=None)


def refused_for(answer: dict[str, Any], level: Level) -> None:
    assert answer["type"] == TOO_LOW, answer
    assert answer["level"] == level and answer["acr"] == LOA[level], answer


async def test_a_practice_minimum_steps_a_password_login_up_and_the_level_is_recorded(
    sites: Sites,
) -> None:
    site = await sites(two_factors=False)
    story = site.story
    # Password only: low, and the token says so.
    status, answer = await login(site, "jan", JAN_PASSWORD)
    assert status == 200 and answer["next"] == "done", answer
    low = claims_of(answer["token"]["token"])
    assert (low["acr"], low["aal"]) == (LOA["low"], "aal1")

    view = await set_assurance(site, {"minimum": "substantial"})
    assert view["assurance"] == {"minimum": "substantial"}
    status, shown = await story.call(story.enrolment, "GET", PATH, site.admin_token)
    assert status == 200 and shown["assurance"] == {"minimum": "substantial"}

    # The same login now must give a second factor: Jan has none, so he enrols one first.
    status, answer = await login(site, "jan", JAN_PASSWORD)
    assert status == 200 and answer["next"] == "enrol", answer
    phone, _, token = await story.enrol(answer, JAN)
    claims = claims_of(token["token"])
    assert (claims["acr"], claims["aal"]) == (LOA["substantial"], "aal2")
    assert set(claims["amr"]) >= {"pwd", "otp"}

    # The audit trail (read by an administrator's two-factor session) records the level.
    admin_id = claims_of(site.admin_token)["sub"]
    admin = session_token(site.auth, admin_id, practice=PRACTICE, rights_group=1)

    async def audited() -> list[dict[str, Any]]:
        status, body = await story.call(
            story.enrolment, "GET", f"{PATH}/audit?type=login.succeeded&employee=jan01", admin
        )
        assert status == 200, body
        found = [e for e in body["events"] if e["object"]["id"] == "jan01"]
        return found if len(found) >= 2 else []

    logins = await wait_for(audited, what="Jan's logins in the audit trail")
    assert sorted((e["detail"]["means"], e["detail"]["level"]) for e in logins) == [
        ("password", "low"),
        ("password+totp", "substantial"),
    ], logins
    assert phone.used, "Jan's phone made the codes"


async def test_a_rights_group_needing_high_is_refused_a_password_login(sites: Sites) -> None:
    site = await sites(two_factors=False)
    await set_assurance(site, {"1": "high"})
    # Administrators (rights group 1) need hoog: no password and second factor reaches it.
    status, answer = await login(site, "admin", ADMIN_PASSWORD)
    assert status == 403, answer
    refused_for(answer, "high")
    # A wrong password still says only that: the level is told after the password is right.
    status, answer = await login(site, "admin", "not-the-password")
    assert status == 401 and answer["type"].endswith("/invalid-credentials"), answer
    # Through the web front door the administrator reads why, and what reaches it.
    web = await site.web()
    page = await log_in(web, "admin", ADMIN_PASSWORD)
    text = await page.text()
    assert page.status == 400 and "betrouwbaarheidsniveau hoog" in text, text
    assert "Dezi" in text and "UZI-pas" in text
    # Jan (rights group 2) is not concerned.
    status, answer = await login(site, "jan", JAN_PASSWORD)
    assert status == 200 and answer["next"] == "done", answer
    # The refusals were right guesses: no lockout counted against the administrator.
    await set_assurance(site, {"1": "low"})
    status, answer = await login(site, "admin", ADMIN_PASSWORD)
    assert status == 200, answer


async def test_bad_assurance_settings_are_refused_and_change_nothing(sites: Sites) -> None:
    site = await sites(two_factors=False)
    story = site.story
    await set_assurance(site, {"minimum": "substantial"})
    for bad in ({"minimum": "hoog"}, {"10": "high"}, {"minimum": 3}, {"admin": "high"}):
        status, problem = await story.call(
            story.enrolment, "PUT", PATH, site.admin_token, assurance=bad
        )
        assert status == 422 and problem["type"].endswith("/invalid-request"), (bad, problem)
    status, shown = await story.call(story.enrolment, "GET", PATH, site.admin_token)
    assert shown["assurance"] == {"minimum": "substantial"}


async def test_an_application_asking_a_level_steps_up_or_is_refused(sites: Sites) -> None:
    site = await sites(two_factors=False)
    status, answer = await login(site, "jan", JAN_PASSWORD, level="low")
    assert status == 200 and answer["next"] == "done", answer
    status, answer = await login(site, "jan", JAN_PASSWORD, level="substantial")
    assert status == 200 and answer["next"] == "enrol", answer
    status, answer = await login(site, "jan", JAN_PASSWORD, level="high")
    assert status == 403, answer
    refused_for(answer, "high")
    status, answer = await login(site, "jan", JAN_PASSWORD, level="hoog")
    assert status == 422, answer
