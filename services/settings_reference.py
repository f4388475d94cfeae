"""``docs/settings.md``, written from the settings classes: every environment variable of every
service (``shared.settings.Settings`` and each service's class in ``services/registry.py``), of
the web front end and of ``tweestap dev``, with its type, default and meaning.

The meaning is the ``#:`` comment above the field in its class (Sphinx's convention), read from
the source; type, bounds and default come from pydantic's field info. ``tests/docs`` fails
when ``docs/settings.md`` is not what this writes::

    python -m services.settings_reference           # write docs/settings.md (make docs)
    python -m services.settings_reference --check   # exit 1 when it differs
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from services.dev.settings import DevSettings
from services.registry import SERVICES
from services.web.settings import WebSettings
from shared.settings import Settings, TopicSettings

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "settings.md"

#: Every class has it, and sets it: the service's name in logs, metrics and event sources.
_SERVICE = "Which service this is; each class sets it (do not set it)."


@dataclass(frozen=True)
class Section:
    title: str
    cls: type[BaseSettings]
    intro: str


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    default: str
    meaning: str


#: Titles of the settings classes that several services share.
_TITLES = {"WebAuthnSettings": "Passkeys"}


def sections() -> list[Section]:
    """The settings classes: the shared ones first, then each service's, the web's, dev's."""
    found = [
        Section(
            "Every service",
            Settings,
            "`Settings` (`shared/settings.py`): auth, enrolment, certs and the notifier read "
            "these.",
        ),
        Section(
            "Topics",
            TopicSettings,
            "`TopicSettings` (`shared/settings.py`): how every service creates the topics at "
            "start (also as one JSON value, `TWEESTAP_TOPICS`).",
        ),
    ]
    mixins: list[type[BaseSettings]] = []
    for spec in SERVICES.values():
        for base in spec.settings.__mro__[1:]:
            if _ours(base) and base is not Settings and base not in mixins:
                mixins.append(base)
    for mixin in mixins:
        users = " and ".join(s.name for s in SERVICES.values() if issubclass(s.settings, mixin))
        found.append(
            Section(
                _TITLES.get(mixin.__name__, mixin.__name__),
                mixin,
                f"`{mixin.__name__}` (`{_path(mixin)}`): part of the settings of {users}, with the "
                "same values in each.",
            )
        )
    for spec in SERVICES.values():
        cls = spec.settings
        found.append(
            Section(spec.name, cls, f"`{cls.__name__}` (`{_path(cls)}`), besides the above.")
        )
    found.append(
        Section(
            "web",
            WebSettings,
            "`WebSettings` (`services/web/settings.py`): the web front end, which has no zone "
            "and no database of its own (it logs at `TWEESTAP_LOG_LEVEL` too).",
        )
    )
    found.append(
        Section(
            "tweestap dev",
            DevSettings,
            "`DevSettings` (`services/dev/settings.py`): the local deployment of `make run`.",
        )
    )
    return found


def _ours(cls: type) -> bool:
    return issubclass(cls, BaseSettings) and cls.__module__.startswith(("shared.", "services."))


def _path(cls: type) -> str:
    return str(Path(inspect.getfile(cls)).resolve().relative_to(ROOT))


def comments(cls: type) -> dict[str, str]:
    """``field → the #: comment above it``, for the fields ``cls`` declares in its body."""
    lines, _ = inspect.getsourcelines(cls)
    body = ast.parse(textwrap.dedent("".join(lines))).body[0]
    assert isinstance(body, ast.ClassDef)
    found: dict[str, str] = {}
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        index = node.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#:"):
            above.insert(0, lines[index].strip().removeprefix("#:").strip())
            index -= 1
        if above:
            found[node.target.id] = " ".join(above)
    return found


def declared(cls: type[BaseSettings]) -> list[str]:
    """The fields ``cls`` declares in its own body, in order (not ``service`` again: a
    subclass only sets it)."""
    inherited = any("service" in inspect.get_annotations(b) for b in cls.__mro__[1:])
    return [
        name
        for name in inspect.get_annotations(cls)
        if name in cls.model_fields and not (name == "service" and inherited)
    ]


def meaning(cls: type[BaseSettings], name: str) -> str:
    """The field's ``#:`` comment (every field has one: the tests say which lack it)."""
    if name == "service":
        return _SERVICE
    return comments(cls).get(name, "")


def rows(cls: type[BaseSettings]) -> Iterator[Row]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    for name in declared(cls):
        info = cls.model_fields[name]
        default = info.get_default(call_default_factory=True)
        yield Row(
            f"{prefix}{name}".upper(),
            _type(info.annotation, info.metadata),
            "*(the fields below)*" if isinstance(default, BaseModel) else _default(default),
            _markdown(meaning(cls, name), cls),
        )


def _type(annotation: Any, metadata: list[Any]) -> str:
    text = _type_name(annotation)
    bounds = []
    for item in metadata:
        if isinstance(item, Ge):
            bounds.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            bounds.append(f"> {item.gt}")
        elif isinstance(item, Le):
            bounds.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            bounds.append(f"< {item.lt}")
    return f"{text}, {', '.join(bounds)}" if bounds else text


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{arg}`" for arg in args)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"{' or '.join(_type_name(a) for a in inner)} (optional)"
    if origin is list:
        item = args[0]
        names = {str: "strings", int: "integers", Path: "paths"}
        plural = "objects" if get_origin(item) is dict else names[item]
        return f"JSON list of {plural}"
    if origin is dict:
        return "JSON object"
    if annotation is SecretStr:
        return "secret"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "JSON object"
    return getattr(annotation, "__name__", str(annotation))


def _default(value: Any) -> str:
    if value is None or value is PydanticUndefined:
        return "*(unset)*"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value == "":
        return "*(empty)*"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value, separators=(',', ':'))}`"
    return f"`{value}`"


def _markdown(text: str, cls: type[BaseSettings]) -> str:
    """A ``#:`` comment as a table cell: reST's double backquotes as Markdown's, and a field
    of the class named by its variable."""
    prefix = str(cls.model_config.get("env_prefix", ""))

    def code(match: re.Match[str]) -> str:
        word = match[1]
        return f"`{prefix}{word}`".upper() if word in cls.model_fields else f"`{word}`"

    return re.sub(r"``([^`]+)``", code, text).replace("|", "\\|")


HEADER = """\
# Settings reference

<!-- Generated from the settings classes by `python -m services.settings_reference` (`make
docs`); do not edit: change the `#:` comment above the field instead. -->

Every setting is an environment variable, read at start by one typed settings class per
service (pydantic-settings; names are case-insensitive). Lists and objects are JSON
(`TWEESTAP_TRUSTED_PROXIES='["10.0.0.0/8"]'`). Three values must be the same in every service
of both zones: `TWEESTAP_SEALING_KEYS` and `TWEESTAP_TRUST_PUBLIC_KEYS` (and enrolment's
`TWEESTAP_BSN_KEY`); `tweestap keygen` makes them ([operate.md](operate.md#keys)). The password
policy is not a setting: it is each practice's own, set by its administrator.
"""


def render() -> str:
    parts = [HEADER]
    for section in sections():
        table = list(rows(section.cls))
        if not table:
            continue
        parts.append(f"\n## {section.title}\n\n{section.intro}\n\n")
        parts.append("| Variable | Type | Default | Meaning |\n|---|---|---|---|\n")
        parts.extend(f"| `{r.name}` | {r.type} | {r.default} | {r.meaning} |\n" for r in table)
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text() != text:
            print(f"{TARGET} differs from the settings classes: run make docs", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
