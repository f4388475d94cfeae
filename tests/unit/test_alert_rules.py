"""deploy/prometheus/alerts.yml: Prometheus's own promtool accepts it (Debian's prometheus
package; `.ci/run` installs it), every rule has its parts, and the outbox rules name metrics
that the services really export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from shared.metrics import Metrics

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _rules() -> dict[str, str]:
    """Alert name → the text of its rule (up to the next rule or group)."""
    text = ALERTS.read_text()
    parts = re.split(r"^\s+- alert: (\w+)\n", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n  - name:")[0] for i in range(1, len(parts), 2)}


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    checked = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_every_rule_has_an_expression_a_severity_and_a_summary() -> None:
    rules = _rules()
    assert rules
    for name, body in rules.items():
        for part in ("expr:", "severity:", "summary:"):
            assert part in body, f"{name} has no {part}"
        assert "\t" not in body, f"{name}: YAML does not allow tabs"


def test_dead_outbox_rows_alert_on_a_metric_the_relay_exports() -> None:
    rules = _rules()
    assert "tweestap_outbox_dead_rows" in rules["TweestapOutboxDeadRows"]
    assert "tweestap_outbox_relay_active" in rules["TweestapOutboxRelayNotSingle"]
    exported = {m.name for m in Metrics("auth", "a").registry.collect()}
    used = {
        name for body in rules.values() for name in re.findall(r"\b(tweestap_outbox_[a-z_]+)", body)
    }
    assert used, "no outbox metric in the rules"
    for name in used:
        # prometheus_client names a counter's family without its _total suffix
        assert name.removesuffix("_total") in exported, name
