"""deploy/docker/compose.yaml: valid Compose, the expected services, healthchecks and env."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy_files import (
    DEPLOY,
    REPO,
    prefix_of,
    read_env_file,
    settings_classes,
    settings_variables,
)

COMPOSE_PATH = DEPLOY / "docker" / "compose.yaml"
#: One-shot jobs: they exit, so they have no healthcheck.
JOBS = {"kafka-init", "offload"}
SECRET_WORDS = ("TOKEN", "API_KEYS", "PASSWORD")
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?P<op>:?[-?])?[^}]*\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_PATH.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def _gateways(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services.items()
        if service.get("command") == ["gateway", "serve"]
    }


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(compose)
    ]
    assert errors == []


def test_compose_runs_every_part_of_the_product(services: dict[str, dict[str, Any]]) -> None:
    expected = {"kafka", "kafka-init", "store", "responder", "airflow", "offload"}
    assert expected <= set(services)
    assert len(_gateways(services)) >= 2


def test_kafka_runs_apache_kafka_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    env = _environment(kafka)
    assert kafka["image"].startswith("apache/kafka:")
    assert not kafka["image"].endswith(":latest")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert not [key for key in env if "ZOOKEEPER" in key]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_topic_init_job_creates_topics_with_the_clients_partition_count(
    services: dict[str, dict[str, Any]],
) -> None:
    init = services["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert init["entrypoint"][-1] == "/deploy/kafka/create-topics.sh"
    source, target, _ = init["volumes"][0].split(":")
    assert (COMPOSE_PATH.parent / source / "create-topics.sh").is_file()
    assert target == "/deploy/kafka"
    partitions = _environment(init)["PARTITIONS"]
    for name in ("responder", *_gateways(services)):
        assert _environment(services[name])["JOURNEYS_KAFKA_PARTITIONS"] == partitions


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name in JOBS:
            continue
        assert not check.get("disable"), name
        assert check.get("test"), f"{name} has no healthcheck"
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_gateways_own_distinct_reply_partitions_within_the_topic(
    services: dict[str, dict[str, Any]],
) -> None:
    partitions = []
    host_ports = []
    for service in _gateways(services).values():
        env = _environment(service)
        partitions.append(int(env["JOURNEYS_GATEWAY_REPLY_PARTITION"]))
        assert int(env["JOURNEYS_GATEWAY_REPLY_PARTITION"]) < int(env["JOURNEYS_KAFKA_PARTITIONS"])
        assert env["JOURNEYS_GATEWAY_HOST"] == "0.0.0.0"
        host_ports += [str(port).split(":")[0] for port in service.get("ports", [])]
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert len(set(partitions)) == len(partitions)
    assert len(set(host_ports)) == len(host_ports)


def test_gateways_get_nothing_about_the_store(services: dict[str, dict[str, Any]]) -> None:
    for name, service in _gateways(services).items():
        assert [key for key in _environment(service) if "STORE" in key] == [], name
        assert "store" not in service.get("depends_on", {}), name


def test_responders_scale_within_the_request_partitions(
    services: dict[str, dict[str, Any]],
) -> None:
    responder = services["responder"]
    replicas = str(responder["deploy"]["replicas"])
    default = re.fullmatch(r"\$\{RESPONDERS:-(\d+)\}", replicas)
    count = int(default.group(1)) if default else int(replicas)
    assert 1 <= count <= int(_environment(responder)["JOURNEYS_KAFKA_PARTITIONS"])
    assert responder["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert responder["depends_on"]["store"]["condition"] == "service_healthy"
    env = _environment(responder)
    assert env["JOURNEYS_RESPONDER_STORE__URL"].startswith("grpc://store:")
    assert env["JOURNEYS_RESPONDER_METRICS_HOST"] == "0.0.0.0"
    assert env["JOURNEYS_RESPONDER_METRICS_PORT"] in " ".join(responder["healthcheck"]["test"])


def test_airflow_runs_standalone_with_the_dags_folder(services: dict[str, dict[str, Any]]) -> None:
    airflow = services["airflow"]
    assert airflow["command"] == ["standalone"]
    assert airflow["build"]["target"] == "airflow"
    dags_folder = _environment(airflow)["AIRFLOW__CORE__DAGS_FOLDER"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in airflow["volumes"]}
    assert (COMPOSE_PATH.parent / mounts[dags_folder]).resolve() == REPO / "dags"
    env = _environment(airflow)
    assert env["JOURNEYS_OFFLOAD_STORE__TOKEN"].startswith("${STORE_OFFLOADER_TOKEN")


def test_every_journeys_variable_is_a_settings_field(services: dict[str, dict[str, Any]]) -> None:
    classes = settings_classes()
    unknown = []
    for name, service in services.items():
        for key in _environment(service):
            if not key.startswith("JOURNEYS_"):
                continue
            prefix = prefix_of(key, classes)
            if prefix is None or key not in settings_variables(classes[prefix]).valid:
                unknown.append(f"{name}: {key}")
    assert unknown == []


def test_secrets_come_from_required_variables_never_literals(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            if any(word in key for word in SECRET_WORDS):
                match = _INTERPOLATION.fullmatch(value)
                assert match is not None, f"{name}: {key} is a literal"
                assert match["op"] == ":?", f"{name}: {key} must be required (${{VAR:?msg}})"


def test_example_env_defines_every_interpolated_variable() -> None:
    example = DEPLOY / "docker" / "example.env"
    defined = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    used = {match["name"] for match in _INTERPOLATION.finditer(COMPOSE_PATH.read_text())}
    assert used == defined
    secrets = [key for key in defined if any(word in key for word in SECRET_WORDS)]
    values = dict(line.split("=", 1) for line in example.read_text().splitlines() if "=" in line)
    assert secrets
    assert all(values[key] == "CHANGEME" for key in secrets)


def test_build_targets_and_mounted_paths_exist(services: dict[str, dict[str, Any]]) -> None:
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, flags=re.MULTILINE))
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (COMPOSE_PATH.parent / build["context"] / build["dockerfile"]).is_file()
            assert build["target"] in stages, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_PATH.parent / source).exists(), f"{name}: {source}"


def test_prometheus_config_scrapes_the_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target.split(":")[0]
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    targets |= {
        name for job in config["scrape_configs"] for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }  # fmt: skip
    assert targets <= set(services)
    assert "store" in targets
    assert "responder" in targets
    assert set(_gateways(services)) <= targets


def test_compose_reads_the_same_settings_as_the_env_files() -> None:
    # The production env files and the compose file configure the same processes; a variable
    # the compose file sets must be one the env file documents.
    compose_env = {
        key
        for service in yaml.safe_load(COMPOSE_PATH.read_text())["services"].values()
        for key in _environment(service)
        if key.startswith("JOURNEYS_")
    }
    documented: set[str] = set()
    for path in (DEPLOY / "env").glob("*.env"):
        documented |= read_env_file(path).documented
    assert compose_env - documented == set()
