"""Every audit action has a Dutch and an English name in the console, and none is shared by
two actions (a filter would be ambiguous)."""

from __future__ import annotations

from services.web.console.audit_texts import ACTION_NAMES, action_name, register
from shared.audit_actions import AUDIT_ACTIONS


def test_every_action_has_a_name_in_each_language() -> None:
    for locale, names in ACTION_NAMES.items():
        assert set(names) == set(AUDIT_ACTIONS), locale
        assert len(set(names.values())) == len(names), f"{locale}: two actions, one name"


def test_the_console_shows_the_name_and_an_unknown_action_as_its_code() -> None:
    register()
    assert action_name("nl", "account.unlocked") == "Account gedeblokkeerd"
    assert action_name("en", "factor.removed") == "Sign-in method removed"
    assert action_name("nl", "something.new") == "something.new"
