"""OAuth 2.0's own answers — pure, no I/O: errors as RFC 6749 §5.2 says (JSON ``error`` and
``error_description``, 400, or 401 with a challenge for a client that failed to authenticate),
not problem+json: relying-party libraries read these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

#: RFC 7523 §2.2: a client assertion's type.
JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: How long a form parameter may be (a code, a refresh token, an assertion is far shorter).
MAX_FORM_VALUE: Final = 8192


class OAuthError(Exception):
    def __init__(
        self, error: str, description: str, status: int = 400, challenge: str | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        #: ``WWW-Authenticate`` of a 401 (RFC 6749 §5.2: the scheme the client tried).
        self.challenge = challenge

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_client(challenge: str | None = None) -> OAuthError:
    """The one answer for an unknown client, a wrong secret or a bad assertion."""
    return OAuthError("invalid_client", "client authentication failed", 401, challenge)


def invalid_grant(description: str = "the grant is not valid") -> OAuthError:
    return OAuthError("invalid_grant", description)


def form_values(form: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each parameter's one value; one given twice, empty or over-long is refused (RFC 6749
    §3.2: "parameters sent without a value MUST be treated as if they were omitted from the
    request"; "MUST NOT be included more than once")."""
    values: dict[str, str] = {}
    for name, given in form.items():
        present = [value for value in given if value != ""]
        if len(present) > 1:
            raise OAuthError("invalid_request", f"{name[:40]} is given more than once")
        if not present:
            continue
        if len(present[0]) > MAX_FORM_VALUE or not present[0].isprintable():
            raise OAuthError("invalid_request", f"{name[:40]} is not acceptable")
        values[name] = present[0]
    return values
