"""Hardening II finding 18: audit records are kept at least five years (NEN 7513, DESIGN §5),
and a shorter retention is refused at start rather than quietly deleting evidence."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.enrolment.settings import EnrolmentSettings

#: Five calendar years at their longest (two leap days): 5 * 365 + 2.
FIVE_YEARS_DAYS = 1827


def test_audit_records_are_kept_five_years_by_default() -> None:
    assert EnrolmentSettings().audit_retention_days == FIVE_YEARS_DAYS


def test_a_retention_below_five_years_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWEESTAP_AUDIT_RETENTION_DAYS", "365")
    with pytest.raises(ValidationError, match="audit_retention_days"):
        EnrolmentSettings()
    with pytest.raises(ValidationError):
        EnrolmentSettings(audit_retention_days=FIVE_YEARS_DAYS - 1)
    assert EnrolmentSettings(audit_retention_days=20 * 366).audit_retention_days == 7320
