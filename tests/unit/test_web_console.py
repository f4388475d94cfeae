"""The admin console's pure parts: form fields → API bodies, problem answers → field
messages, and the shaping of the services' answers for the pages."""

from __future__ import annotations

from services.web.console import forms, views


def test_practice_form_becomes_the_put_body_with_the_policy_as_integers() -> None:
    parsed = forms.practice_body(
        {
            "name": " Fysio Jansen ",
            "email": "",
            "two_factor_required": "on",
            "min_strength": "60",
            "history": "5",
            "lockout_minutes": "",
        }
    )
    assert parsed.ok
    assert parsed.body == {
        "name": "Fysio Jansen",
        "email": None,
        "two_factor_required": True,
        "confirm_incomplete": False,
        "password_policy": {"min_strength": 60, "history": 5},
    }


def test_the_lockout_is_asked_in_minutes_and_kept_in_seconds() -> None:
    parsed = forms.practice_body({"name": "Fysio", "lockout_minutes": "15"})
    assert parsed.body["password_policy"] == {"lockout_seconds": 900}
    refused = forms.problem_errors(
        "invalid-request", {"errors": [{"field": "password_policy.lockout_seconds"}]}
    )
    assert refused == {"lockout_minutes": "console.error.invalid"}


def test_practice_form_names_the_field_that_is_no_number_and_a_missing_name() -> None:
    parsed = forms.practice_body({"name": "", "max_attempts": "vijf", "confirm_incomplete": "1"})
    assert parsed.errors == {
        "name": "console.error.required",
        "max_attempts": "console.error.number",
    }
    assert parsed.body["confirm_incomplete"] is True
    assert parsed.body["two_factor_required"] is False


def test_employee_form_keeps_the_bsn_unless_one_is_typed_and_empties_remove() -> None:
    kept = forms.employee_body(
        {"username": "anna", "name": "Anna", "birth_date": "", "email": "", "rights_group": "2"}
    )
    assert kept.ok and "bsn" not in kept.body
    assert kept.body["birth_date"] is None and kept.body["email"] is None
    assert kept.body["in_service"] is False and kept.body["rights_group"] == 2
    typed = forms.employee_body(
        {"username": "anna", "name": "Anna", "bsn": "111222333", "in_service": "on"}
    )
    assert typed.body["bsn"] == "111222333" and typed.body["in_service"] is True
    bad = forms.employee_body({"username": "", "name": "A", "birth_date": "31-02-1980"})
    assert bad.errors == {"username": "console.error.required", "birth_date": "console.error.date"}


def test_the_care_identifiers_are_sent_when_the_form_has_them_and_checked_first() -> None:
    """The URA (eight digits) and the Dezi number (digits): spaces dropped, empty removes
    (``null``), a bad value names its field and sends nothing; a form without the field
    leaves the stored value alone (ADR 0014)."""
    practice = forms.practice_body({"name": "Fysio", "ura": " 8765 4321 "})
    assert practice.ok and practice.body["ura"] == "87654321"
    assert forms.practice_body({"name": "Fysio", "ura": ""}).body["ura"] is None
    assert "ura" not in forms.practice_body({"name": "Fysio"}).body
    for bad in ("1234567", "123456789", "8765432x"):
        assert forms.practice_body({"name": "F", "ura": bad}).errors == {"ura": "console.error.ura"}
    employee = {"username": "anna", "name": "Anna"}
    linked = forms.employee_body({**employee, "dezi_number": "900000123"})
    assert linked.ok and linked.body["dezi_number"] == "900000123"
    assert forms.employee_body({**employee, "dezi_number": ""}).body["dezi_number"] is None
    assert "dezi_number" not in forms.employee_body(employee).body
    assert forms.employee_body({**employee, "dezi_number": "UZI-12"}).errors == {
        "dezi_number": "console.error.dezi_number"
    }
    assert forms.problem_errors("dezi-number-taken", {}) == {
        "dezi_number": "console.problem.dezi-number-taken"
    }


def test_certificate_forms() -> None:
    upload = forms.certificate_import_body(b"\x30\x82", "geheim")
    assert upload.body == {"pkcs12": "MII=", "password": "geheim"}
    assert forms.certificate_import_body(b"", "x").errors == {"pkcs12": "console.error.file"}
    patch = forms.certificate_patch_body(
        {"type": "public", "agb_code": "1234 5678", "services": "LSP\r\n\r\nVecozo\nLSP"}
    )
    assert patch.body == {"type": "public", "agb_code": "12345678", "services": ["LSP", "Vecozo"]}
    assert forms.certificate_patch_body({"type": "secret"}).errors == {
        "type": "console.error.choice"
    }


def test_audit_filters_become_the_query_with_utc_for_a_local_time() -> None:
    parsed = forms.audit_query(
        {"from": "2026-11-28T10:00", "to": "", "type": "login.failed", "employee": "e1"}
    )
    assert parsed.body == {
        "from": "2026-11-28T10:00:00+00:00",
        "type": "login.failed",
        "employee": "e1",
    }
    assert forms.audit_query({"type": "drop.table", "to": "gisteren"}).errors == {
        "type": "console.error.choice",
        "to": "console.error.time",
    }


def test_problems_are_tied_to_the_fields_they_concern() -> None:
    invalid = {"errors": [{"field": "password_policy.min_strength", "message": "≤ 100"}]}
    assert forms.problem_errors("invalid-request", invalid) == {
        "min_strength": "console.error.invalid"
    }
    assert forms.problem_errors("two-factor-not-allowed", {"unmet": ["min_strength", "email"]}) == {
        "min_strength": "console.problem.two-factor-min_strength",
        "email": "console.problem.two-factor-email",
    }
    assert forms.problem_errors("employees-incomplete", {}) == {
        "two_factor_required": "console.problem.employees-incomplete"
    }
    assert forms.problem_errors("wrong-password", {}) == {
        "password": "console.problem.wrong-password"
    }
    assert forms.problem_errors("forbidden", {}) == {"form": "console.problem.forbidden"}


def test_serial_in_hex_pairs() -> None:
    assert views.serial_pairs("a1b2c") == "0A:1B:2C"
    assert views.serial_pairs("0A 1B 2C") == "0A:1B:2C"


def test_employee_rows_flag_missing_data_in_service_first() -> None:
    employees = [
        {"employee": "e2", "username": "b", "name": "Bert", "rights_group": 2, "in_service": False},
        {"employee": "e1", "username": "a", "name": "anna", "rights_group": 1, "in_service": True},
    ]
    readiness = {"employees": [{"employee": "e1", "missing": ["strong_factor", "bsn"]}]}
    rows = views.employee_rows(employees, readiness)
    assert [r.employee for r in rows] == ["e1", "e2"]
    assert rows[0].missing == ("bsn", "strong_factor") and rows[1].missing == ()


def test_employee_rows_join_accounts_and_filter_by_status() -> None:
    employees = [
        {
            "employee": "e1",
            "username": "a",
            "name": "Anna",
            "rights_group": 1,
            "in_service": True,
            "factor_kinds": ["totp", "recovery"],
        },
        {
            "employee": "e2",
            "username": "b",
            "name": "Bert",
            "rights_group": 2,
            "in_service": True,
            "activation_valid_until": "2026-11-28T10:30:00+00:00",
        },
    ]
    accounts = {
        "e1": {"status": "active", "last_login": "2026-11-28T08:00:00+00:00"},
        "e2": {"status": "locked", "locked_until": "2026-11-28T10:15:00+00:00"},
    }
    rows = views.employee_rows(employees, None, accounts)
    assert [(r.status, r.factor_kinds) for r in rows] == [
        ("active", ("totp", "recovery")),
        ("locked", ()),
    ]
    assert rows[0].last_login == "28-11-2026 09:00" and rows[1].locked_until == "28-11-2026 11:15"
    assert rows[1].activation_until == "28-11-2026 11:30"
    assert [r.employee for r in views.employee_rows(employees, None, accounts, "locked")] == ["e2"]
    assert [r.employee for r in views.employee_rows(employees, None, accounts, "no_factor")] == [
        "e2"
    ]
    unknown = views.employee_rows(employees, None, {})
    assert all(r.status is None for r in unknown), "auth did not answer: no status shown"


def test_incomplete_lists_only_employees_in_service_lacking_identity_data() -> None:
    readiness = {
        "employees": [
            {"employee": "e1", "in_service": True, "missing": ["strong_factor"]},
            {"employee": "e2", "in_service": True, "missing": ["email", "strong_factor"]},
            {"employee": "e3", "in_service": False, "missing": ["bsn"]},
        ]
    }
    assert views.incomplete(readiness) == [
        {"employee": "e2", "in_service": True, "missing": ["email"]}
    ]


def test_audit_link_and_row() -> None:
    link = views.audit_link("/console/audit", {"type": "login.failed", "cursor": "x"}, cursor="y")
    assert link == "/console/audit?type=login.failed&cursor=y"
    assert views.audit_link("/a", {"cursor": "x"}, cursor=None) == "/a"
    row = views.audit_row(
        {
            "time": "2026-11-28T10:00:00.123+00:00",
            "action": "login.failed",
            "outcome": "failure",
            "actor": {"user": None, "rights_group": None, "address": "10.0.0.1"},
            "object": {"type": "employee", "id": "e1"},
            "source": "auth@a",
        }
    )
    # Amsterdam is an hour ahead of UTC in November (and two in summer).
    assert row["time"] == "28-11-2026 11:00" and row["actor"] == "—"
    assert row["at"] == "2026-11-28T10:00:00.123+00:00"
    summer = views.audit_row({"time": "2026-07-01T22:30:00+00:00"})
    assert summer["time"] == "02-07-2026 00:30"
    assert row["object"] == "employee e1" and row["address"] == "10.0.0.1"
    named = views.audit_row(
        {"actor": {"user": "e1"}, "object": {"type": "employee", "id": "e1"}}, {"e1": "Anna"}
    )
    assert named["actor"] == "Anna" and named["object"] == "employee Anna"
    dutch = views.audit_row(
        {"object": {"type": "employee", "id": "e1"}}, {"e1": "Anna"}, {"employee": "medewerker"}
    )
    assert dutch["object"] == "medewerker Anna", "the object's type in the reader's language"


def _token(claims: dict[str, object]) -> dict[str, str]:
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return {"token": f"h.{payload}.s"}


def test_only_rights_group_1_gets_the_console() -> None:
    from services.web.claims import token_claims
    from services.web.console.admin import admin_of

    admin = token_claims(_token({"practice": "fysio", "sub": "e1", "rg": 1}))
    assert admin is not None and admin_of(admin) is not None
    assert admin_of(admin).path("employees", "a/b") == "/v1/practices/fysio/employees/a%2Fb"  # type: ignore[union-attr]
    employee = token_claims(_token({"practice": "fysio", "sub": "e2", "rg": 2}))
    assert employee is not None and admin_of(employee) is None
    assert token_claims({"token": "not-a-jwt"}) is None and token_claims(None) is None


def test_every_console_text_exists_in_dutch_and_english() -> None:
    from services.web.console.texts import CONSOLE_TEXTS

    assert set(CONSOLE_TEXTS["nl"]) == set(CONSOLE_TEXTS["en"])
    keys = set(CONSOLE_TEXTS["nl"])
    used = set(forms.practice_body({"max_attempts": "x"}).errors.values())
    used |= set(forms.practice_body({"ura": "1"}).errors.values())
    used |= set(forms.employee_body({"dezi_number": "x"}).errors.values())
    slugs = ("username-taken", "wrong-password", "dezi-number-taken")
    problems = [forms.problem_errors(s, {}) for s in slugs]
    used |= {key for found in problems for key in found.values()}
    used |= {f"console.missing.{m}" for m in views.MISSING_ORDER}
    assert used <= keys


def test_the_header_links_the_console_for_an_administrator_only() -> None:
    """The page header shows "Beheer" to a token of rights group 1, to nobody else (the
    console's pages and the services check again)."""
    import jinja2

    from services.web import i18n
    from services.web.app import HERE

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    base = env.get_template("base.html")

    def header(is_admin: bool) -> str:
        return base.render(
            t=lambda key, **kw: i18n.text("nl", key, **kw),
            locale="nl",
            csrf="x",
            logged_in=True,
            is_admin=is_admin,
            path="/factors",
            error=None,
        )

    assert 'href="/console"' in header(True) and "Beheer" in header(True)
    assert 'href="/console"' not in header(False) and 'href="/factors"' in header(False)


def test_a_certificate_is_named_by_its_holder_and_uzi_number() -> None:
    assert views.common_name("CN=de Vries\\, Jan,O=Fysio Jansen,C=NL") == "de Vries, Jan"
    assert views.common_name("O=Fysio Jansen,C=NL") is None
    uzi = {"subject": "CN=Jan de Vries,O=Fysio", "uzi": {"number": "123456789"}}
    assert views.holder(uzi) == "Jan de Vries — UZI 123456789"
    assert views.holder({"subject": "CN=Praktijkserver"}) == "Praktijkserver"
    assert views.holder({"subject": "O=Fysio"}) == "O=Fysio"
