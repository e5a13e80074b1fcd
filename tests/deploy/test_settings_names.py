"""The manifests speak the runtime's language: every environment variable they set is a
Settings field (services/runtime/settings.py: its alias, else its name) or the OpenTelemetry
SDK's own OTEL_*; the ports and addresses agree with the Services; no secret is inlined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.testkit.manifests import (
    K8S,
    OVERLAYS,
    REPO_ROOT,
    Document,
    find,
    load_documents,
    manifest_files,
    of_kind,
    setting_names,
)

from services.registry import SERVICE_NAMES
from services.runtime.settings import Settings

NAMESPACE = "clearmesh"
SECRET_NAMES = {"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "CLEARMESH_KYC_PII_KEYS", "CLEARMESH_KYC_HASH_KEY",
                "SOLANA_RPC_URL", *(f"{name.upper()}_DATABASE_URL" for name in SERVICE_NAMES)}


def _is_known(variable: str) -> bool:
    return variable in setting_names() or variable.startswith("OTEL_")


def _containers(documents: list[Document]) -> list[Document]:
    return [container for workload in of_kind(documents, "Deployment", "StatefulSet", "Job")
            for container in workload["spec"]["template"]["spec"]["containers"]]


def test_every_secret_name_is_a_setting() -> None:
    assert setting_names() >= SECRET_NAMES


def test_every_configmap_key_is_a_runtime_setting(base: list[Document]) -> None:
    unknown = {key for key in find(base, "ConfigMap", "clearmesh-settings")["data"] if not _is_known(key)}
    assert not unknown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_variable_is_a_runtime_setting(rendered: dict[str, list[Document]], overlay: str) -> None:
    clearmesh = [c for c in _containers(rendered[overlay]) if c["image"].startswith("ghcr.io/clearmesh/")]
    unknown = {variable["name"] for container in clearmesh for variable in container.get("env", [])
               if not _is_known(variable["name"])}
    assert not unknown


def test_the_grpc_and_metrics_ports_are_the_ones_the_settings_open(base: list[Document]) -> None:
    data = find(base, "ConfigMap", "clearmesh-settings")["data"]
    settings = Settings(**{key: value for key, value in data.items() if not key.startswith("OTEL_")})
    for name in SERVICE_NAMES:
        (container,) = [c for c in _containers(base) if c["name"] == name]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"grpc": settings.port_for(name), "metrics": settings.metrics_port}
        assert container["args"] == ["serve", name]
    (edge,) = [c for c in _containers(base) if c["name"] == "edge"]
    assert {port["name"]: port["containerPort"] for port in edge["ports"]} == {
        "http": settings.edge_port, "metrics": settings.metrics_port}


def test_each_peer_address_is_the_service_and_its_grpc_port(base: list[Document]) -> None:
    data = find(base, "ConfigMap", "clearmesh-settings")["data"]
    settings = Settings(**{key: value for key, value in data.items() if not key.startswith("OTEL_")})
    for name in SERVICE_NAMES:
        host, _, port = settings.address_of(name).rpartition(":")
        service = find(base, "Service", name)
        assert host == f"{name}.{NAMESPACE}.svc.cluster.local"
        assert int(port) in {p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"}


def _secret_values(document: Any, path: str = "") -> list[str]:
    """Paths where a secret variable is given a literal value instead of a reference."""
    found: list[str] = []
    if isinstance(document, dict):
        if document.get("kind") == "Secret" and (document.get("data") or document.get("stringData")):
            found.append(f"{path}: a Secret with inline data")
        if document.get("name") in SECRET_NAMES and "value" in document:
            found.append(f"{path}: {document['name']} has a literal value")
        if document.get("kind") == "ConfigMap":
            found.extend(f"{path}: ConfigMap key {key}" for key in document.get("data", {}) if key in SECRET_NAMES)
        for key, value in document.items():
            found.extend(_secret_values(value, f"{path}.{key}"))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_secret_values(value, f"{path}[{index}]"))
    return found


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: str(path.relative_to(K8S)))
def test_no_manifest_inlines_a_secret(path: Path) -> None:
    assert not _secret_values(load_documents(path))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_rendered_overlay_inlines_a_secret(rendered: dict[str, list[Document]], overlay: str) -> None:
    assert not _secret_values(rendered[overlay])


def test_a_literal_secret_is_caught() -> None:
    leaked = {"env": [{"name": "JWT_SECRET", "value": "hunter2"}]}
    assert _secret_values(leaked)


def test_secrets_are_referenced_from_the_one_secret(base: list[Document]) -> None:
    references = {variable["valueFrom"]["secretKeyRef"]["name"] for container in _containers(base)
                  for variable in container.get("env", []) if "secretKeyRef" in variable.get("valueFrom", {})}
    assert references == {"clearmesh-secrets"}


def test_compose_takes_every_clearmesh_secret_from_the_environment() -> None:
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    for service in compose["services"].values():
        environment = service.get("environment", {})
        for name in SECRET_NAMES & set(environment) - {"DATABASE_URL", "REDIS_URL"}:
            assert str(environment[name]).startswith("${"), name
