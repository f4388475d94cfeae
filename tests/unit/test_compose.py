"""docker-compose.yml, checked without a Docker engine: both zones of every service, Apache
Kafka in KRaft mode with three racked brokers and SASL, PostgreSQL per zone, the mail
catcher, Prometheus and Grafana; pinned images; no port published twice; every TWEESTAP_
variable (compose and deploy/compose.env.example) read by a settings class; Prometheus
scraping exactly the services' operations ports."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel
from pydantic_settings import BaseSettings

from services.registry import SERVICES
from services.web.settings import WebSettings
from shared.settings import OPS_PORT_OFFSET

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ZONES = ("a", "b")
#: Modules whose pydantic-settings classes read TWEESTAP_ variables.
SETTINGS_MODULES = (
    "shared.settings",
    "services.dev.settings",
    *(f"services.{name}.settings" for name in SERVICES),
    "services.web.settings",
)
VARIABLE = re.compile(r"\bTWEESTAP_[A-Z0-9_]+")


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment", {})
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(name): str(value) for name, value in env.items()}


def tweestap_services() -> Iterator[tuple[str, str, str]]:
    """(compose name, service, zone) of every Tweestap process."""
    for name, spec in services().items():
        command = spec.get("command") or []
        if command[:1] == ["serve"] and command[1] != "web":  # the web has no zone
            yield name, command[1], command[command.index("--zone") + 1]


def ops_port(name: str, service: str, zone: str) -> int:
    """The operations port, as `tweestap serve` derives it (services/cli.py, Settings)."""
    env = environment(name)
    port = int(env.get("TWEESTAP_PORT") or SERVICES[service].default_port(zone))
    return int(env.get("TWEESTAP_OPS_PORT") or port + OPS_PORT_OFFSET)


def env_names(cls: type[BaseModel], prefix: str = "", delimiter: str | None = None) -> set[str]:
    """The environment variables a settings class reads (case-insensitively: upper case).

    A field's name gets the class's env_prefix unless it has an alias; a nested BaseSettings
    reads its own prefix; a nested plain model is reachable through env_nested_delimiter."""
    if issubclass(cls, BaseSettings):
        prefix = str(cls.model_config.get("env_prefix") or "")
        delimiter = cls.model_config.get("env_nested_delimiter")
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(f"{prefix}{field_name}".upper())
        nested = field.annotation
        if inspect.isclass(nested) and issubclass(nested, BaseSettings):
            names |= env_names(nested)
        elif inspect.isclass(nested) and issubclass(nested, BaseModel) and delimiter:
            names |= env_names(nested, f"{prefix}{field_name}{delimiter}", delimiter)
    return names


def settings_classes() -> list[type[BaseSettings]]:
    classes: list[type[BaseSettings]] = []
    for module_name in SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        classes += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseSettings) and cls.__module__ == module_name
        ]
    return classes


def test_env_names_follow_prefixes_and_nested_settings() -> None:
    auth = env_names(SERVICES["auth"].settings)
    assert {"TWEESTAP_ZONE", "TWEESTAP_KAFKA_BOOTSTRAP", "TWEESTAP_TOPIC_PARTITIONS"} <= auth
    assert "TWEESTAP_BSN_KEY" not in auth  # enrolment's, not auth's
    assert "TWEESTAP_BSN_KEY" in env_names(SERVICES["enrolment"].settings)


def test_both_zones_of_every_service() -> None:
    running = {(service, zone): name for name, service, zone in tweestap_services()}
    for service in SERVICES:
        for zone in ZONES:
            name = running.get((service, zone))
            assert name == f"{service}-{zone}", f"{service} zone {zone} is not in compose"
            assert environment(name)["TWEESTAP_ZONE"] == zone


def test_the_infrastructure_services() -> None:
    present = services()
    for name in ("postgres-a", "postgres-b", "mailpit", "prometheus", "grafana", "kafka-setup"):
        assert name in present, name
    for zone in ZONES:  # each zone's services use that zone's PostgreSQL
        for name, _, service_zone in tweestap_services():
            if service_zone == zone:
                assert f"@postgres-{zone}:" in environment(name)["TWEESTAP_DATABASE_URL"], name
    mounts = {name: " ".join(present[name].get("volumes", [])) for name in present}
    assert "./deploy/prometheus:/etc/prometheus" in mounts["prometheus"]
    assert "./deploy/grafana/dashboards:" in mounts["grafana"]
    assert "./deploy/grafana/provisioning:" in mounts["grafana"]


def test_the_web_front_end_calls_both_zones() -> None:
    web = services()["web"]
    assert web["command"] == ["serve", "web"]
    env = environment("web")
    assert set(env) <= env_names(WebSettings)
    zones = json.loads(env["TWEESTAP_WEB_ZONES"])
    assert [z["auth"] for z in zones] == ["http://auth-a:8101", "http://auth-b:8201"]
    assert "8100:8100" in web["ports"]


def test_every_image_is_pinned() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, spec in services().items():
        image = spec.get("image")
        assert image, f"{name} has no image"
        repository, _, tag = image.rpartition(":")
        assert repository and tag and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        if repository == "tweestap":
            assert tag == version, f"{name}: tweestap image {tag}, project version {version}"


def _published() -> Iterator[tuple[str, str]]:
    """(compose name, host port) of every published port."""
    for name, spec in services().items():
        for port in spec.get("ports", []):
            parts = str(port).split(":")
            assert len(parts) in (2, 3), f"{name}: publish {port} with an explicit host port"
            yield name, parts[-2]


def test_no_host_port_is_published_twice() -> None:
    seen: dict[str, str] = {}
    for name, port in _published():
        # All interfaces include 127.0.0.1: compare the host port whatever the address.
        assert port not in seen, f"port {port}: {seen.get(port)} and {name}"
        seen[port] = name
    assert seen


def test_every_tweestap_variable_is_a_setting_of_the_service_that_gets_it() -> None:
    for name, service, _ in tweestap_services():
        known = env_names(SERVICES[service].settings)
        unknown = {var for var in environment(name) if var.startswith("TWEESTAP_")} - known
        assert not unknown, f"{name} gets variables no setting of {service} reads: {unknown}"


def test_every_tweestap_variable_in_compose_and_env_example_is_a_setting() -> None:
    known: set[str] = set()
    for cls in settings_classes():
        known |= env_names(cls)
    used = set(VARIABLE.findall(COMPOSE.read_text())) | set(
        VARIABLE.findall(ENV_EXAMPLE.read_text())
    )
    assert used
    unknown = used - known
    assert not unknown, f"TWEESTAP_ variables no settings class reads: {sorted(unknown)}"


def _brokers() -> dict[str, dict[str, str]]:
    return {
        name: environment(name)
        for name, spec in services().items()
        if str(spec.get("image", "")).startswith("apache/kafka:")
        and "KAFKA_NODE_ID" in environment(name)
    }


def test_kafka_is_three_kraft_brokers_one_per_rack_with_sasl() -> None:
    brokers = _brokers()
    assert len(brokers) == 3, sorted(brokers)
    assert {env["KAFKA_BROKER_RACK"] for env in brokers.values()} == {"a", "b", "c"}
    assert len({env["KAFKA_NODE_ID"] for env in brokers.values()}) == 3
    assert len({env["CLUSTER_ID"] for env in brokers.values()}) == 1
    for name, env in brokers.items():
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, name
        assert not any("ZOOKEEPER" in key for key in env), name
        voters = dict(v.split("@") for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert set(voters) == {e["KAFKA_NODE_ID"] for e in brokers.values()}, name
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2, name
        protocol_map = env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
        protocols = dict(pair.split(":") for pair in protocol_map.split(","))
        advertised = {
            address.split("://")[1]: address.split("://")[0]
            for address in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        }
        # What the services bootstrap from is this broker's SASL listener.
        mine = [
            address
            for address in environment("auth-a")["TWEESTAP_KAFKA_BOOTSTRAP"].split(",")
            if address.startswith(f"{name}:")
        ]
        assert len(mine) == 1, f"the services do not bootstrap from {name}"
        assert protocols[advertised[mine[0]]].startswith("SASL_"), name
    for name, _, _ in tweestap_services():
        env = environment(name)
        assert env["TWEESTAP_KAFKA_SECURITY_PROTOCOL"].startswith("SASL_"), name
        assert env["TWEESTAP_KAFKA_USERNAME"] and env["TWEESTAP_KAFKA_PASSWORD"], name
        assert int(env["TWEESTAP_TOPIC_REPLICATION_FACTOR"]) == len(brokers), name
        assert int(env["TWEESTAP_TOPIC_MIN_INSYNC_REPLICAS"]) == 2, name


def test_prometheus_scrapes_the_operations_port_of_every_service() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    scraped: dict[str, dict[str, str]] = {}
    for job in config["scrape_configs"]:
        if job["job_name"].startswith("tweestap-"):
            for group in job["static_configs"]:
                for target in group["targets"]:
                    scraped[target] = {**group.get("labels", {}), "job": job["job_name"]}
    expected = {
        f"{name}:{ops_port(name, service, zone)}": {
            "service": service,
            "zone": zone,
            "job": f"tweestap-{service}",
        }
        for name, service, zone in tweestap_services()
    }
    assert scraped == expected
    for name, service, zone in tweestap_services():
        probe = " ".join(services()[name]["healthcheck"]["test"])
        assert f":{ops_port(name, service, zone)}/healthz" in probe, name
