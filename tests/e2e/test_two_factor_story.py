"""The whole story of issue 4 on real components (told in tests/e2e/story.py): a practice
switches on two factors and an employee lives with it."""

from __future__ import annotations

from tests.conftest import Cluster, SmtpSink
from tests.e2e.story import two_factor_story


async def test_practice_switches_on_two_factor_and_an_employee_lives_with_it(
    cluster: Cluster, smtp_sink: SmtpSink
) -> None:
    witness = await two_factor_story(cluster, smtp_sink)
    # What the story saw, for the secret scan (tests/e2e/test_no_secrets.py).
    assert {"password", "code", "bsn", "totp_secret", "token"} <= set(witness.secrets)
