"""The certificate store's problem answers (RFC 9457), built fresh for each answer."""

from __future__ import annotations

from shared.problems import Problem, not_found

#: Refusals of an import (domain slugs) and their status and title.
REFUSALS = {
    "wrong-password": (422, "Wrong password"),
    "unreadable-certificate": (422, "Unreadable certificate"),
    "key-mismatch": (422, "Key does not match the certificate"),
    "certificate-expired": (422, "Certificate expired"),
    "certificate-not-yet-valid": (422, "Certificate not yet valid"),
}


def refused(slug: str, detail: str) -> Problem:
    status, title = REFUSALS[slug]
    return Problem(status, slug, title, detail)


def duplicate(nr: str) -> Problem:
    return Problem(
        409,
        "duplicate-certificate",
        "Certificate already imported",
        "The practice already has this certificate (same SHA-256 fingerprint).",
        nr=nr,
    )


def no_certificate() -> Problem:
    return not_found("No such certificate in this practice.")


def unknown_employee() -> Problem:
    return Problem(
        404, "unknown-employee", "Unknown employee", "No such employee in this practice."
    )
