"""deploy/grafana/dashboards/tweestap.json: every panel's queries read metrics the services
export (names found by tests/unit/promql_names.py's tokenizer), the dashboard shows every
metric an alert rule reads, and it points at the provisioned Prometheus data source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.unit.exported_metrics import exported_samples
from tests.unit.promql_names import metric_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "tweestap.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _queries() -> dict[str, list[str]]:
    """Panel title → its PromQL expressions."""
    return {
        panel["title"]: [target["expr"] for target in panel.get("targets", []) if "expr" in target]
        for panel in _panels(_dashboard()["panels"])
        if panel.get("type") != "row"
    }


def test_the_tokenizer_finds_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (zone, le) (rate(tweestap_login_seconds_bucket{outcome="'
        'success", zone=~"$zone"}[$__rate_interval]))) > 1e3 unless on (zone) up offset 5m'
    )
    assert metric_names(expr) == {"tweestap_login_seconds_bucket", "up"}
    assert metric_names("(x - time()) / 86400 or vector(0)") == {"x"}


def test_every_panel_queries_metrics_that_exist() -> None:
    exported = exported_samples()
    queries = _queries()
    assert queries
    for title, exprs in queries.items():
        assert exprs, f"panel {title!r} has no query"
        for expr in exprs:
            used = metric_names(expr)
            assert used, f"panel {title!r}: no metric in {expr!r}"
            unknown = used - exported
            assert not unknown, f"panel {title!r} reads metrics nobody exports: {sorted(unknown)}"


def test_the_dashboard_shows_every_metric_an_alert_reads() -> None:
    shown = {name for exprs in _queries().values() for expr in exprs for name in metric_names(expr)}
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        missing = metric_names(rule["expr"]) - shown
        assert not missing, f"{rule['alert']} reads {sorted(missing)}, which no panel shows"


def test_panels_have_unique_ids_and_the_provisioned_data_source() -> None:
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    panels = list(_panels(_dashboard()["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == uid, panel["title"]
