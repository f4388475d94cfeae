"""The one string type of every event and request field: text PostgreSQL can keep."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def storable(value: str) -> str:
    """Refuse what PostgreSQL cannot keep in ``text`` and UTF-8 cannot encode: NUL and lone
    surrogates (JSON may carry both as ``\\u`` escapes)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain lone surrogates") from None
    return value


#: The one string type of every event and request field: storable text. Bounds go beside it,
#: ``Annotated[Text, Field(max_length=...)]``.
Text = Annotated[str, AfterValidator(storable)]
