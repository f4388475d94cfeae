"""Day, month and year fields to an ISO date and back."""

from __future__ import annotations

from services.web.dates import from_parts, to_parts


def test_parts_make_an_iso_date_and_anything_else_stays_as_typed() -> None:
    form = {"birth_date_day": "17", "birth_date_month": "5", "birth_date_year": "1980"}
    assert from_parts(form, "birth_date") == "1980-05-17"
    assert from_parts({**form, "birth_date_day": "31", "birth_date_month": "2"}, "birth_date") == (
        "1980-2-31"
    ), "no such day: the service refuses it"
    assert from_parts({**form, "birth_date_year": "tachtig"}, "birth_date") == "tachtig-5-17"
    assert from_parts({"birth_date": "1980-05-17"}, "birth_date") == "1980-05-17"
    assert from_parts({}, "birth_date") == ""


def test_an_iso_date_fills_the_fields() -> None:
    assert to_parts("1980-05-07") == {"day": "7", "month": "5", "year": "1980"}
    assert to_parts("") == {"day": "", "month": "", "year": ""}
