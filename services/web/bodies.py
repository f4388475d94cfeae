"""The JSON bodies the web reads (the passkey pages' script posts them), read by the services'
own bounded reader (:func:`shared.http.parse_body`: content type, malformed or too deeply nested
JSON, NUL and lone surrogates) and answered as the script expects: ``{"error": text}`` with the
problem's 4xx status. A refused body's values are never echoed."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.web import i18n
from shared.events import Text
from shared.http import parse_body
from shared.problems import Problem

M = TypeVar("M", bound=BaseModel)
#: A WebAuthn credential as the browser's JSON has it is a few levels deep; anything deeper
#: is refused here rather than passed on.
CREDENTIAL_DEPTH = 8


def _shallow(value: Any, depth: int = 0) -> bool:
    if depth > CREDENTIAL_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_shallow(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return all(_shallow(item, depth + 1) for item in value)
    return True


class _Credential(BaseModel):
    model_config = ConfigDict(extra="ignore")

    credential: dict[str, Any]

    @field_validator("credential")
    @classmethod
    def _not_too_deep(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not _shallow(value):
            raise ValueError(f"nested more than {CREDENTIAL_DEPTH} levels")
        return value


class PasskeyAssertion(_Credential):
    """``POST /login/passkey``: the browser's answer to the login's passkey challenge."""


class PasskeyRegistration(_Credential):
    """``POST /factors/passkey``: a new passkey (the services check the credential itself)."""

    registration_id: Text = Field(min_length=1, max_length=64)
    name: Text | None = Field(default=None, max_length=100)


class Refused(Exception):
    """A body the web does not pass on; ``response`` is the script's answer."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def read(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as ``model``, or :class:`Refused` (4xx ``{"error": text}``)."""
    try:
        return await parse_body(request, model)
    except Problem as problem:
        text = i18n.text(request["session"]["locale"], "request_invalid")
        raise Refused(web.json_response({"error": text}, status=problem.status)) from None
    except web.HTTPRequestEntityTooLarge:
        text = i18n.text(request["session"]["locale"], "request_invalid")
        raise Refused(web.json_response({"error": text}, status=413)) from None
