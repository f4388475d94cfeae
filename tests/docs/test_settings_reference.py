"""docs/settings.md is what the settings classes say: every class, every field, its type,
default and ``#:`` comment (services/settings_reference.py writes it: ``make docs``)."""

from __future__ import annotations

import difflib
import importlib
import inspect
from pathlib import Path

from pydantic_settings import BaseSettings

from services import settings_reference as reference

ROOT = Path(__file__).resolve().parents[2]


def test_docs_settings_md_is_generated_from_the_classes() -> None:
    written, wanted = reference.TARGET.read_text(), reference.render()
    diff = "".join(
        difflib.unified_diff(
            written.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            "docs/settings.md",
            "the settings classes",
        )
    )
    assert written == wanted, f"docs/settings.md drifted: run `make docs`\n{diff}"


def _settings_modules() -> list[str]:
    files = [ROOT / "shared" / "settings.py", ROOT / "shared" / "webauthn.py"]
    files += sorted(ROOT.glob("services/*/settings.py"))
    return [".".join(f.relative_to(ROOT).with_suffix("").parts) for f in files]


def test_every_settings_class_is_in_the_reference() -> None:
    documented = {section.cls for section in reference.sections()}
    for name in _settings_modules():
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if (
                inspect.isclass(cls)
                and issubclass(cls, BaseSettings)
                and cls.__module__ == module.__name__
            ):
                assert cls in documented, f"{name}.{cls.__name__} is missing from sections()"


def test_every_setting_says_what_it_means() -> None:
    silent = [
        f"{section.cls.__name__}.{name}"
        for section in reference.sections()
        for name in reference.declared(section.cls)
        if not reference.meaning(section.cls, name)
    ]
    assert not silent, f"give these a #: comment in their class: {silent}"
