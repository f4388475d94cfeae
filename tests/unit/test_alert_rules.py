"""deploy/prometheus/alerts.yml: Prometheus's own promtool accepts it and passes its unit
tests (alerts.test.yml; Debian's prometheus package has promtool, `.ci/run` installs it),
every alert has a unit test in which it fires, every rule has its parts, and every metric a
rule reads is one the services export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.unit.exported_metrics import exported_samples
from tests.unit.promql_names import metric_names

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
JOB_MATCHER = re.compile(r'\bjob\s*(=~?)\s*"([^"]*)"')
#: The areas issue 12 asks alerts for, each with the alert that covers it.
REQUIRED = {
    "a zone down": "TweestapZoneDown",
    "renewal failures": "TweestapRenewalFailures",
    "outbox backlog growing": "TweestapOutboxBacklogGrowing",
    "replication lag": "TweestapReplicationSlow",
    "dead letters": "TweestapDeadLetters",
    "dead outbox rows": "TweestapOutboxDeadRows",
    "consumers catching up too long": "TweestapCatchingUpTooLong",
    "consumer lag": "TweestapConsumerNotCatchingUp",
    "task restarts": "TweestapTaskRestarting",
    "certificate expiry": "TweestapCertificateExpiring",
    "failed logins": "TweestapLoginFailureRatio",
    "a spike of failed logins": "TweestapFailedLoginSpike",
    "lockouts": "TweestapLockoutSpike",
    "fallback logins": "TweestapFallbackLoginUsed",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, check=False, cwd=PROMETHEUS
    )


def _rules() -> dict[str, dict[str, Any]]:
    """Alert name → its rule."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def _alerts_tested_firing() -> set[str]:
    """Alerts that some test in alerts.test.yml expects to fire."""
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    return {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }


def test_promtool_accepts_the_rules() -> None:
    checked = _promtool("check", "rules", ALERTS.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_promtool_accepts_the_prometheus_config_with_its_rules() -> None:
    checked = _promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    tested = _promtool("test", "rules", ALERT_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_in_which_it_fires() -> None:
    untested = set(_rules()) - _alerts_tested_firing()
    assert not untested, f"alerts without a firing test in alerts.test.yml: {sorted(untested)}"
    unknown = _alerts_tested_firing() - set(_rules())
    assert not unknown, f"alerts.test.yml tests alerts that do not exist: {sorted(unknown)}"


def test_the_issue_s_alert_areas_are_covered() -> None:
    missing = {area: name for area, name in REQUIRED.items() if name not in _rules()}
    assert not missing


def test_every_rule_has_an_expression_a_severity_and_a_summary() -> None:
    rules = _rules()
    assert len(rules) >= len(REQUIRED)
    for name, rule in rules.items():
        assert rule.get("expr"), f"{name} has no expr"
        assert rule.get("labels", {}).get("severity"), f"{name} has no severity"
        assert rule.get("annotations", {}).get("summary"), f"{name} has no summary"


def test_every_metric_a_rule_reads_is_exported() -> None:
    exported = exported_samples()
    for name, rule in _rules().items():
        used = metric_names(rule["expr"])
        assert used, f"{name}: no metric found in its expr"
        unknown = used - exported
        assert not unknown, f"{name} reads metrics no service exports: {sorted(unknown)}"


def test_every_job_a_rule_names_is_scraped() -> None:
    """A renamed scrape job would silently disable the zone-down rules (`up` never matches)."""
    jobs = {job["job_name"] for job in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    for name, rule in _rules().items():
        for operator, value in JOB_MATCHER.findall(rule["expr"]):
            matching = {
                j for j in jobs if (re.fullmatch(value, j) if operator == "=~" else j == value)
            }
            assert matching, f"{name}: no scrape job matches job{operator}{value!r}"
