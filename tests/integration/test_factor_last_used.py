"""When each sign-in method was last used (issue 25), end to end on real components: auth names
the factor that passed in ``login.succeeded`` (``factor_id``), enrolment's audit trail keeps it,
the employee's list (``GET /v1/factors``) and the web's factors page show it as dd-mm-jjjj
hh:mm; a method not used since is "Niet bekend"."""

from __future__ import annotations

import re
from typing import Any, cast

from tests.integration.test_own_factors import jan_on_the_web, text
from tests.support.cluster import wait_for
from tests.support.site import Sites


async def test_the_factors_page_shows_when_each_method_was_last_used(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web, _, token = await jan_on_the_web(site)  # logged in with the app, on the web
    story = site.story

    async def app_used() -> list[dict[str, Any]] | None:
        status, listed = await story.call(story.enrolment, "GET", "/v1/factors", token)
        assert status == 200, listed
        factors = cast(list[dict[str, Any]], listed)
        return factors if factors[0]["last_used_at"] else None

    listed = await wait_for(app_used, what="the app's last login in the list")
    assert listed is not None
    assert [f["kind"] for f in listed] == ["totp", "recovery"], listed
    assert listed[0]["last_used_at"] >= listed[0]["created_at"], listed
    assert listed[1]["last_used_at"] is None, "the recovery code was never used"

    page = await text(await web.get("/factors"))
    assert '<th scope="col">Laatst gebruikt</th>' in page, page
    used = re.findall(r'<td class="last-used[^"]*">([^<]*)</td>', page)
    assert len(used) == 2 and re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d", used[0]), used
    assert used[1] == "Niet bekend", used
