"""The one string type of every event and request field: text PostgreSQL can keep."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def storable(value: str) -> str:
    """Refuse what PostgreSQL cannot keep in ``text`` and UTF-8 cannot encode: NUL and lone
    surrogates (JSON may carry both as ``\\u`` escapes)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000)")
    if _has_surrogate(value):
        raise ValueError("must not contain lone surrogates")
    return value


def is_storable(value: str) -> bool:
    """:func:`storable` as a test, for a walk that names the culprit only when there is one."""
    return "\x00" not in value and not _has_surrogate(value)


def _has_surrogate(value: str) -> bool:
    if value.isascii():  # ASCII has no surrogates: most values skip the encoding
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


#: The one string type of every event and request field: storable text. Bounds go beside it,
#: ``Annotated[Text, Field(max_length=...)]``.
Text = Annotated[str, AfterValidator(storable)]
