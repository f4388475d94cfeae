"""One key per username (shared.usernames): NFKC and Unicode case folding."""

from __future__ import annotations

import pytest

from shared.usernames import normalise_username


@pytest.mark.parametrize(
    "form",
    [
        "admin",
        "ADMIN",
        " Admin ",
        "\uff41\uff44\uff4d\uff49\uff4e",
        "\uff21\uff24\uff2d\uff29\uff2e",
    ],
)
def test_case_width_and_spaces_around_are_one_key(form: str) -> None:
    assert normalise_username(form) == "admin"


def test_folding_is_stronger_than_lower() -> None:
    assert normalise_username("Straße") == normalise_username("STRASSE") == "strasse"
    assert normalise_username("\ufb01ets") == "fiets"  # the "fi" ligature


def test_different_names_stay_different() -> None:
    assert normalise_username("anna") != normalise_username("anne")
    assert normalise_username("a b") == "a b", "inner spaces are part of the name"
