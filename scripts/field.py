"""One field of a JSON answer on stdin, for the README's walkthrough (plain ``python3``):

    curl … | python3 scripts/field.py token.token

Prints the field (a text as it is, anything else as JSON). When the answer has no such field it
prints nothing on stdout, says why on stderr and exits 1: the error the answer is (status, type
and the service's own explanation, e.g. ``401 code-already-used: Each code works once; wait for
the next code of the authenticator app.``), or what the answer has instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: What to do next in the walkthrough, for the errors a step there can meet.
HINTS = {
    "code-already-used": "a TOTP code works once and the step before spent this one: wait for "
    "the next 30-second step (oathtool --totp -b $SECRET) and run this step again",
    "account-locked": "the demo administrator is locked: .venv/bin/tweestap dev reset-admin "
    "sets a new password and unlocks them (then PW=… again)",
    "invalid-credentials": "is $PW the administrator's password now? If a step changed it, "
    "use that one; lost it? .venv/bin/tweestap dev reset-admin",
}


def why_missing(answer: Any, path: str) -> str:
    """Why ``answer`` has no ``path``, in a line or two."""
    if isinstance(answer, dict) and "type" in answer and "status" in answer:
        slug = str(answer["type"]).rsplit("/", 1)[-1]
        detail = answer.get("detail") or answer.get("title") or ""
        said = f"the answer is an error: {answer['status']} {slug}: {detail}"
        hint = HINTS.get(slug)
        return f"{said}\n  ({hint})" if hint else said
    if isinstance(answer, dict):
        note = answer.get("note")
        if isinstance(note, str):
            return f"no {path}: {note}"
        keys = ", ".join(str(k) for k in answer) or "none"
        return f"no {path} in the answer (its fields: {keys})"
    return f"no {path}: the answer is {type(answer).__name__}, not an object"


def field(answer: Any, path: str) -> Any:
    """The value at ``path`` (dots between keys), or None when it is missing or null."""
    value = answer
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: … | python3 scripts/field.py NAME[.NAME…]", file=sys.stderr)
        return 2
    path = argv[1]
    raw = sys.stdin.read()
    if not raw.strip():
        print(f"field {path}: no answer at all (is `make run` running?)", file=sys.stderr)
        return 1
    try:
        answer = json.loads(raw)
    except ValueError:
        print(f"field {path}: the answer is not JSON: {raw.strip()[:200]}", file=sys.stderr)
        return 1
    value = field(answer, path)
    if value is None:
        print(f"field {path}: {why_missing(answer, path)}", file=sys.stderr)
        return 1
    print(value if isinstance(value, str) else json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
