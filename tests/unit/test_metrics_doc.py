"""docs/metrics.md against the registries the services build: every exported tweestap_
family is documented under its service with its type and labels, and every documented
metric is exported."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.unit.exported_metrics import all_families, service_families, shared_families

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
#: The heading of the metrics every service exports; the others are service names.
SHARED_HEADING = "Every service"
ROW = re.compile(r"^\|\s*`(tweestap_\w+)`\s*\|([^|]*)\|([^|]*)\|")


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    labels: tuple[str, ...]
    heading: str


def documented() -> list[Row]:
    rows: list[Row] = []
    heading = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif match := ROW.match(line):
            name, kind, labels = match.groups()
            rows.append(Row(name, kind.strip(), tuple(re.findall(r"`(\w+)`", labels)), heading))
    return rows


def test_the_doc_parses_into_rows_for_every_service() -> None:
    headings = {row.heading for row in documented()}
    owning = {service for service, own in service_families().items() if own}
    assert {SHARED_HEADING} | owning <= headings


def test_every_documented_metric_is_listed_once() -> None:
    names = [row.name for row in documented()]
    assert sorted(names) == sorted(set(names)), "a metric is documented twice"


def test_every_exported_metric_is_documented_and_every_documented_one_exported() -> None:
    exported = set(all_families())
    doc = {row.name for row in documented()}
    assert not exported - doc, f"exported but not in docs/metrics.md: {sorted(exported - doc)}"
    assert not doc - exported, f"in docs/metrics.md but not exported: {sorted(doc - exported)}"


def test_each_documented_metric_has_its_type_and_labels() -> None:
    families = all_families()
    for row in documented():
        family = families[row.name]
        assert row.type == family.type, f"{row.name}: documented {row.type}, is {family.type}"
        assert row.labels == family.labels, (
            f"{row.name}: documented labels {row.labels}, exported {family.labels}"
        )


def test_each_metric_is_documented_under_the_service_that_exports_it() -> None:
    owner = {name: SHARED_HEADING for name in shared_families()}
    for service, own in service_families().items():
        owner.update({name: service for name in own})
    for row in documented():
        assert row.heading == owner[row.name], (
            f"{row.name} is under '{row.heading}', exported by {owner[row.name]}"
        )
