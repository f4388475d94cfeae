"""The wizard's pages as a person reads them (issue 25), through the web front end in front of
auth, enrolment and the notifier (real PostgreSQL, broker and SMTP): why the birth date and BSN
are asked, until when the code is valid, "no code received?" sending a new one (the old one
stops working), and on the app's page the apps named, the key in groups of four, a link for
the same phone, the six-digit hint, back and cancel."""

from __future__ import annotations

import re
from urllib.parse import unquote

from tests.support.site import Sites, log_in, post
from tests.support.story import JAN, JAN_PASSWORD, Authenticator


async def test_the_wizard_explains_resends_and_shows_the_key_in_groups(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web = await site.web()
    story = site.story
    assert (await log_in(web, "jan", JAN_PASSWORD)).status == 200
    page = await (await web.get("/wizard")).text()
    assert "controleren we dat u het echt bent" in page and "9 cijfers" in page, page
    assert re.search(r"De code is geldig tot \d\d:\d\d\.", page), page
    first = await story.activation_code(JAN["email"], 1)

    again = await post(web, "/wizard/resend")
    assert again.status == 200 and "Er is een code verstuurd" in await again.text()
    second = await story.activation_code(JAN["email"], 2)
    assert second != first
    person = {"birth_date": JAN["birth_date"], "bsn": JAN["bsn"]}
    refused = await post(web, "/wizard/identity", activation_code=first, **person)
    assert refused.status == 400, "the first code no longer works"

    qr_page = await post(web, "/wizard/identity", activation_code=second, **person)
    html = await qr_page.text()
    assert qr_page.status == 200 and "Google Authenticator" in html
    shown = re.search(r'id="secret" data-value="([A-Z2-7]+)"[^>]*>([A-Z2-7 ]+)<', html)
    assert shown, html
    secret, grouped = shown.groups()
    assert grouped.split() == [secret[i : i + 4] for i in range(0, len(secret), 4)]
    link = re.search(r'href="(otpauth://totp/[^"]+)" id="otpauth-link"', html)
    assert link and f"secret={secret}" in unquote(link.group(1)).replace("&amp;", "&")
    assert "De 6 cijfers die de app nu toont." in html
    assert 'id="wizard-back"' in html and 'id="wizard-cancel"' in html
    done = await post(web, "/wizard/confirm", code=Authenticator(secret).code())
    assert done.status == 200 and 'id="recovery-code"' in await done.text()
