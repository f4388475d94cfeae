"""Message templates (jinja2): ``templates/{locale}/{name}.{subject,txt,html,sms}.j2``.

HTML is autoescaped; text, subject and SMS are not (they are not HTML). A missing parameter is
an error, never an empty hole in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    UndefinedError,
    select_autoescape,
)

from services.notifier.domain.delivery import permanent

FOLDER = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class Templates:
    def __init__(self, folder: Path = FOLDER) -> None:
        self.env = Environment(
            loader=FileSystemLoader(folder),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=False,
        )

    def _render(self, locale: str, name: str, part: str, params: dict[str, Any]) -> str:
        return self.env.get_template(f"{locale}/{name}.{part}.j2").render(**params).strip()

    def render(self, channel: str, name: str, locale: str, params: dict[str, Any]) -> Rendered:
        try:
            if channel == "sms":
                return Rendered("", self._render(locale, name, "sms", params), None)
            return Rendered(
                self._render(locale, name, "subject", params),
                self._render(locale, name, "txt", params),
                self._render(locale, name, "html", params),
            )
        except TemplateNotFound:
            raise permanent(
                "unknown-template", f"no {channel} template {name!r} in {locale!r}"
            ) from None
        except UndefinedError as exc:
            raise permanent("template-parameter-missing", str(exc)) from None
