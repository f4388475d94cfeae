"""The metric names a PromQL expression reads, for checking alert rules and dashboard panels.

promtool has no expression parser on its command line, so this is a small tokenizer: drop
string literals, Grafana variables, label matchers ``{...}``, ranges ``[...]`` and label lists
(``by``/``without``/``on``/``ignoring``/``group_left``/``group_right (...)``); what remains
that looks like an identifier, is not a function (followed by ``(``) and is not a keyword,
is a metric name. Numbers and durations (``5m``, ``1e3``) never start an identifier here.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "atan2",
    }
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects (``up``, ``tweestap_logins_total``, …)."""
    text = _STRINGS.sub('""', expr)
    text = _GRAFANA_VARIABLES.sub("1", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    return {
        name
        for name, call in _IDENTIFIER.findall(text)
        if not call and name.lower() not in KEYWORDS
    }
