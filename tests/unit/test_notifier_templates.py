"""The notifier's message templates (services/notifier/templates/{locale}/{name}.{part}.j2).

Rendered with a jinja2 environment built here, configured as the notifier renders them: strict
about missing parameters, HTML autoescaped, text/subject/SMS verbatim.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, UndefinedError, meta

FOLDER = Path(__file__).resolve().parents[2] / "services" / "notifier" / "templates"
LOCALES = ("nl", "en")
PRACTICE = "Fysiotherapie Jansen"

PARAMS: dict[str, dict[str, Any]] = {
    "activation_code": {
        "employee_name": "Piet de Vries",
        "practice_name": PRACTICE,
        "code": "K7P-Q2X-9M",
        "expires_minutes": 60,
    },
    "login_code": {
        "employee_name": "Piet de Vries",
        "practice_name": PRACTICE,
        "code": "482913",
        "expires_minutes": 5,
    },
    "lockout_notice": {
        "employee_name": "Piet de Vries",
        "practice_name": PRACTICE,
        "username": "pdevries",
        "locked_until": "23-11-2026 10:30",
    },
    "fallback_alert": {
        "practice_name": PRACTICE,
        "employee_name": "Piet de Vries",
        "username": "pdevries",
        "used_at": "23-11-2026 10:00",
        "certificate": "CN=Piet de Vries, O=Fysiotherapie Jansen",
        "uses_left": 2,
    },
    "certificate_expiry": {
        "practice_name": PRACTICE,
        "certificate": "CN=Fysiotherapie Jansen, O=Vecozo",
        "serial": "0A:1B:2C:3D",
        "expires_at": "01-12-2026",
        "days_left": 7,
    },
    "factor_changed": {
        "employee_name": "Piet de Vries",
        "practice_name": PRACTICE,
        "change": "enrolled",
        "changed_at": "23-11-2026 09:12",
    },
    "totp_replay": {
        "employee_name": "Piet de Vries",
        "practice_name": PRACTICE,
        "used_at": "23-11-2026 09:15",
    },
    "enrolment_blocked": {
        "practice_name": PRACTICE,
        "employee_name": "Piet de Vries",
        "username": "pdevries",
        "blocked_at": "23-11-2026 09:20",
    },
}
SMS = ("activation_code", "login_code")
EMAIL_PARTS = ("subject", "txt", "html")
FOOTER = {
    "nl": "Tweestap — tweestapsverificatie voor {}",
    "en": "Tweestap — two-step verification for {}",
}

ALL = [(name, locale) for name in PARAMS for locale in LOCALES]
ALL_SMS = [(name, locale) for name in SMS for locale in LOCALES]
ALL_PARTS = [
    (name, locale, part)
    for name in PARAMS
    for locale in LOCALES
    for part in (*EMAIL_PARTS, *(("sms",) if name in SMS else ()))
]


def parts(name: str) -> tuple[str, ...]:
    return (*EMAIL_PARTS, "sms") if name in SMS else EMAIL_PARTS


def env() -> Environment:
    return Environment(
        loader=FileSystemLoader(FOLDER),
        undefined=StrictUndefined,
        # HTML is escaped; subject, text and SMS are not HTML (ruff only trusts select_autoescape)
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),  # noqa: S701
        keep_trailing_newline=False,
    )


ENV = env()


def render(name: str, locale: str, part: str, params: dict[str, Any]) -> str:
    return ENV.get_template(f"{locale}/{name}.{part}.j2").render(**params).strip()


def variables(name: str, locale: str, part: str) -> set[str]:
    assert ENV.loader is not None
    source = ENV.loader.get_source(ENV, f"{locale}/{name}.{part}.j2")[0]
    return set(meta.find_undeclared_variables(ENV.parse(source)))


def test_every_template_has_all_files_in_both_locales() -> None:
    expected = {f"{name}.{part}.j2" for name in PARAMS for part in parts(name)}
    assert sorted(p.name for p in FOLDER.iterdir() if p.is_dir()) == sorted(LOCALES)
    for locale in LOCALES:
        assert {p.name for p in (FOLDER / locale).iterdir()} == expected, locale


@pytest.mark.parametrize(("name", "locale", "part"), ALL_PARTS)
def test_templates_use_only_their_own_parameters(name: str, locale: str, part: str) -> None:
    used = variables(name, locale, part)
    if part in ("txt", "html"):
        assert used == set(PARAMS[name]), "an e-mail body uses every parameter, and only those"
    else:
        assert used <= set(PARAMS[name])
        assert "practice_name" in used


@pytest.mark.parametrize(("name", "locale"), ALL)
def test_email_renders_with_every_value(name: str, locale: str) -> None:
    params = PARAMS[name]
    subject = render(name, locale, "subject", params)
    text = render(name, locale, "txt", params)
    html = render(name, locale, "html", params)
    assert subject and "\n" not in subject and "{" not in subject
    for key, value in params.items():
        if (name, locale, key) == ("factor_changed", "nl", "change"):
            continue  # translated; see test_factor_change_is_worded_in_dutch
        assert str(value) in text, value
        assert str(value) in html, value
    assert FOOTER[locale].format(PRACTICE) in text
    assert FOOTER[locale].format(PRACTICE) in html
    assert "{{" not in text + html and "{%" not in text + html


@pytest.mark.parametrize(("name", "locale"), ALL)
def test_html_is_self_contained(name: str, locale: str) -> None:
    html = render(name, locale, "html", PARAMS[name])
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in html
    assert "<h1" in html and html.rstrip().endswith("</html>")
    lowered = html.lower()
    for external in ("http:", "https:", "<img", "<link", "<script", "<style", "src=", "href="):
        assert external not in lowered, external


@pytest.mark.parametrize("name", SMS)
@pytest.mark.parametrize("locale", LOCALES)
def test_code_shown_in_text_and_in_monospace_box(name: str, locale: str) -> None:
    params = PARAMS[name]
    text = render(name, locale, "txt", params)
    html = render(name, locale, "html", params)
    assert f"    {params['code']}" in text.splitlines()
    box = html[: html.index(params["code"])].rsplit("<", 1)[1]
    assert "monospace" in box


@pytest.mark.parametrize(("name", "locale"), ALL)
def test_markup_in_a_parameter_is_escaped_in_html_only(name: str, locale: str) -> None:
    params = {**PARAMS[name], "practice_name": "Praktijk <script>alert(1)</script> & Zn"}
    html = render(name, locale, "html", params)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zn" in html
    assert "<script>alert(1)</script> & Zn" in render(name, locale, "txt", params)
    assert "<script>alert(1)</script> & Zn" in render(name, locale, "subject", params)


@pytest.mark.parametrize(("name", "locale", "part"), ALL_PARTS)
def test_a_missing_parameter_is_an_error(name: str, locale: str, part: str) -> None:
    for missing in sorted(variables(name, locale, part)):
        params = {k: v for k, v in PARAMS[name].items() if k != missing}
        with pytest.raises(UndefinedError):
            render(name, locale, part, params)


@pytest.mark.parametrize(("name", "locale"), ALL_SMS)
@pytest.mark.parametrize("code", ["482913", "K7P-Q2X-9M"])
def test_sms_fits_in_one_message(name: str, locale: str, code: str) -> None:
    params = {**PARAMS[name], "code": code, "practice_name": PRACTICE, "expires_minutes": 5}
    sms = render(name, locale, "sms", params)
    assert code in sms and PRACTICE in sms
    assert len(sms) <= 160, len(sms)
    assert "\n" not in sms
    assert sms.isascii(), "plain GSM-7 text, no two-byte encoding"
    lowered = sms.lower()
    assert "http" not in lowered and "www." not in lowered


@pytest.mark.parametrize("name", SMS)
def test_sms_with_a_long_practice_name_still_fits(name: str) -> None:
    practice = "Fysiotherapie en Manuele Therapie Van den Berg-Jansen"
    for locale in LOCALES:
        params = {**PARAMS[name], "practice_name": practice, "expires_minutes": 10}
        assert len(render(name, locale, "sms", params)) <= 160


@pytest.mark.parametrize("name", PARAMS)
def test_dutch_and_english_differ(name: str) -> None:
    for part in parts(name):
        nl = render(name, "nl", part, PARAMS[name])
        en = render(name, "en", part, PARAMS[name])
        assert nl != en, part


def test_subjects_are_distinct() -> None:
    for locale in LOCALES:
        subjects = {render(name, locale, "subject", PARAMS[name]) for name in PARAMS}
        assert len(subjects) == len(PARAMS), locale


@pytest.mark.parametrize(
    ("change", "dutch"),
    [
        ("enrolled", "ingesteld"),
        ("deactivated", "uitgeschakeld"),
        ("recovery code used", "herstelcode gebruikt"),
        ("recovery code regenerated", "nieuwe herstelcode aangemaakt"),
        ("phone number changed", "phone number changed"),
    ],
)
def test_factor_change_is_worded_in_dutch(change: str, dutch: str) -> None:
    params = {**PARAMS["factor_changed"], "change": change}
    for part in ("txt", "html"):
        nl = render("factor_changed", "nl", part, params)
        assert f"Wijziging: {dutch}" in nl
        if dutch != change:
            assert change not in nl
        assert f"Change: {change}" in render("factor_changed", "en", part, params)


@pytest.mark.parametrize(
    ("days_left", "nl", "en"),
    [
        (7, "verloopt over 7 dagen", "expires in 7 days"),
        (1, "verloopt over 1 dag,", "expires in 1 day,"),
        (0, "is verlopen", "has expired"),
        (-3, "is verlopen", "has expired"),
    ],
)
def test_certificate_expiry_wording(days_left: int, nl: str, en: str) -> None:
    params = {**PARAMS["certificate_expiry"], "days_left": days_left}
    for part in ("txt", "html"):
        dutch = render("certificate_expiry", "nl", part, params)
        english = render("certificate_expiry", "en", part, params)
        assert nl in dutch and en in english
        assert "01-12-2026" in dutch and "01-12-2026" in english
        assert "Vecozo" in dutch and "UZI" in english
    expired = days_left <= 0
    assert ("verlopen" in render("certificate_expiry", "nl", "subject", params)) == expired
    assert ("expired" in render("certificate_expiry", "en", "subject", params)) == expired


@pytest.mark.parametrize(("uses_left", "dutch"), [(2, "nog 2 keer"), (0, "niet meer")])
def test_fallback_uses_left_wording(uses_left: int, dutch: str) -> None:
    params = {**PARAMS["fallback_alert"], "uses_left": uses_left}
    for part in ("txt", "html"):
        assert f"kan de noodprocedure {dutch} worden gebruikt" in render(
            "fallback_alert", "nl", part, params
        )
        assert f"30-day period: {uses_left}." in render("fallback_alert", "en", part, params)
