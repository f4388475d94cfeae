"""The web front end's templates: every page has a title of its own (WCAG 2.4.2; the base
puts "Fout:" before it when the page shows an error). The titles' text and uniqueness per page
are checked in Chromium: tests/browser/test_accessibility.py."""

from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2 import nodes

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "web" / "templates"
#: Templates other pages extend: their pages give the title.
LAYOUTS = {"base.html", "console/layout.html"}


def pages() -> dict[str, nodes.Template]:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    parsed = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        tree = env.parse(path.read_text(encoding="utf-8"))
        if name not in LAYOUTS and tree.find(nodes.Extends) is not None:
            parsed[name] = tree
    return parsed


def test_every_page_has_its_own_title() -> None:
    found = pages()
    assert "login/form.html" in found and "console/settings.html" in found
    untitled = [
        name
        for name, tree in found.items()
        if not any(block.name == "title" for block in tree.find_all(nodes.Block))
    ]
    assert not untitled, f"pages without {{% block title %}}: {untitled}"
