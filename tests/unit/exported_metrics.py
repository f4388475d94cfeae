"""The metric families the services export, read from the registries their apps build.

Each service's ``create_app`` builds its ``services/<name>/metrics.py`` class (a subclass of
``shared.metrics.Metrics``), or the plain ``Metrics`` when it has none; building those alone
gives the same registry without a database. The documentation, alert and dashboard tests
compare against this.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cache

from prometheus_client import CollectorRegistry

from services.registry import SERVICES
from shared.metrics import Metrics

#: Labels every tweestap_ series carries (shared/metrics.py); documented once, not per row.
COMMON_LABELS = ("service", "zone")
#: Series Prometheus makes itself, usable in queries next to the services' own.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
#: Sample names a family is exposed under, by type (the OpenMetrics/text conventions).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


@dataclass(frozen=True)
class Family:
    """One metric family. ``name`` is what people query and document: a counter's with
    ``_total`` (prometheus_client's family name drops it)."""

    name: str
    type: str
    labels: tuple[str, ...]  # without COMMON_LABELS
    base: str  # the family name as prometheus_client reports it

    def samples(self) -> set[str]:
        """Every sample name Prometheus stores for this family."""
        return {self.base + suffix for suffix in SUFFIXES[self.type]}


def build_metrics(service: str) -> Metrics:
    """What a service's create_app builds: its own Metrics subclass (it takes the zone only),
    else the plain Metrics."""
    try:
        module = importlib.import_module(f"services.{service}.metrics")
    except ModuleNotFoundError:
        return Metrics(service, "a")
    own = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Metrics) and cls is not Metrics and cls.__module__ == module.__name__
    ]
    assert len(own) == 1, f"services/{service}/metrics.py: expected one Metrics subclass"
    built: Metrics = own[0]("a")  # type: ignore[call-arg]
    return built


def _families(registry: CollectorRegistry) -> dict[str, Family]:
    found: dict[str, Family] = {}
    # Label names of a metric without children appear nowhere in the public API: read them
    # from the collectors (prometheus_client keeps them in _labelnames).
    for collector in list(registry._collector_to_names):
        for family in collector.collect():
            labels = tuple(getattr(collector, "_labelnames", ()))
            assert labels[:2] == COMMON_LABELS, f"{family.name} lacks service/zone: {labels}"
            name = family.name + ("_total" if family.type == "counter" else "")
            found[name] = Family(name, family.type, labels[2:], family.name)
    return found


@cache
def shared_families() -> dict[str, Family]:
    """The families every service exports (shared/metrics.py)."""
    return _families(Metrics("shared", "a").registry)


@cache
def service_families() -> dict[str, dict[str, Family]]:
    """Service name → the families its own metrics class adds to the shared ones."""
    shared = shared_families()
    return {
        service: {
            name: family
            for name, family in _families(build_metrics(service).registry).items()
            if name not in shared
        }
        for service in SERVICES
    }


def all_families() -> dict[str, Family]:
    families = dict(shared_families())
    for own in service_families().values():
        families.update(own)
    return families


def exported_samples() -> set[str]:
    """Every sample name a query may use: the services' and Prometheus's own."""
    names = set(PROMETHEUS_SERIES)
    for family in all_families().values():
        names |= family.samples()
    return names
