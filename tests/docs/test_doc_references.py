"""What the README and docs/ name exists: every relative link (and its anchor), every repository
path in backticks, every ``TWEESTAP_*`` setting and every problem type of an error table. A doc
that names a renamed file, setting or problem fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services import settings_reference as reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
SETTING = re.compile(r"\bTWEESTAP_[A-Z0-9_]*[A-Z0-9](_\*)?")
#: Top-level folders whose paths the docs name.
TOP = ("shared/", "services/", "tests/", "client/", "deploy/", "docs/", "scripts/", "bench/")
#: Environment variables that are no settings class's field.
NOT_SETTINGS = {
    "TWEESTAP_SCREENS": "the folder the browser tests save screenshots in",
    "TWEESTAP_TOPICS": "the topic settings as one JSON value (TopicSettings)",
}


def _ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


def anchors(path: Path) -> set[str]:
    """GitHub's ids of the headings of ``path``."""
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title.replace("`", ""))
            found.add(title.replace(" ", "-"))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_every_relative_link_resolves(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        assert linked.exists(), f"{_ids(doc)}: a link to {target}: no such file"
        if anchor:
            assert linked.suffix == ".md" and anchor in anchors(linked), (
                f"{_ids(doc)}: a link to {target}: no such heading"
            )


def _defines(path: Path, name: str) -> bool:
    pattern = rf"^\s*((async )?def|class) {re.escape(name)}\b|^{re.escape(name)}\b.*="
    return re.search(pattern, path.read_text(), re.MULTILINE) is not None


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_every_repository_path_exists(doc: Path) -> None:
    for code in CODE.findall(doc.read_text()):
        path, _, symbol = code.split(" ")[0].rstrip(",.").partition("::")
        if not path.startswith(TOP) or re.search(r"[{}<>*…]", path):
            continue
        assert (ROOT / path).exists(), f"{_ids(doc)}: `{code}`: no such file or folder"
        if symbol:
            name = symbol.split(".")[-1]
            assert _defines(ROOT / path, name), f"{_ids(doc)}: `{code}`: no {name} there"


def _settings() -> set[str]:
    return {row.name for s in reference.sections() for row in reference.rows(s.cls)}


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_every_setting_named_exists(doc: Path) -> None:
    known = _settings() | set(NOT_SETTINGS)
    for match in SETTING.finditer(doc.read_text()):
        name = match[0]
        if name.endswith("_*"):
            prefix = name[:-1]
            assert any(k.startswith(prefix) for k in known), f"{_ids(doc)}: {name}"
        else:
            assert name in known, f"{_ids(doc)}: {name} is no setting (docs/settings.md)"


def _problem_types() -> set[str]:
    sources = [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]
    return {m for f in sources for m in re.findall(r'"([a-z]+(?:-[a-z]+)*)"', f.read_text())}


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_every_problem_type_in_an_error_table_exists(doc: Path) -> None:
    known = _problem_types()
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) >= 2 and re.fullmatch(r"\d{3}(, \d{3})*|other", cells[0]):
            for slug in re.findall(r"`([a-z]+(?:-[a-z]+)*)`", cells[1]):
                assert slug in known, f"{_ids(doc)}: problem type {slug} is not in the code"
