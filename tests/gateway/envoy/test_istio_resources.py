"""Every resource under istio/ is valid for Istio's CRDs, and the kustomization lists exactly them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ISTIO_DIR = Path(__file__).resolve().parents[3] / "istio"
# install/ holds istioctl's input (the mesh config), not cluster resources.
INSTALL_DIR = ISTIO_DIR / "install"
RESOURCE_FILES = sorted(path for path in ISTIO_DIR.rglob("*.yaml")
                        if path.name != "kustomization.yaml" and INSTALL_DIR not in path.parents)
Document = dict[str, Any]


@pytest.mark.parametrize("path", RESOURCE_FILES, ids=lambda path: str(path.relative_to(ISTIO_DIR)))
def test_istio_resource_validates_against_its_crd_schema(
    validate_istio: Callable[[Document], None], load_documents: Callable[[Path], list[Document]], path: Path,
) -> None:
    documents = load_documents(path)
    assert documents, f"{path} holds no resource"
    for resource in documents:
        validate_istio(resource)


def test_misspelt_field_fails_crd_validation(
    validate_istio: Callable[[Document], None], load_documents: Callable[[Path], list[Document]],
) -> None:
    virtual_service = load_documents(ISTIO_DIR / "traffic" / "order.yaml")[1]
    bad = copy.deepcopy(virtual_service)
    bad["spec"]["http"][0]["retries"]["retryOnn"] = "unavailable"
    with pytest.raises(jsonschema.ValidationError, match="retryOnn"):
        validate_istio(bad)


def test_value_outside_the_enum_fails_crd_validation(
    validate_istio: Callable[[Document], None], load_documents: Callable[[Path], list[Document]],
) -> None:
    (peer_authentication,) = load_documents(ISTIO_DIR / "mesh" / "peer-authentication.yaml")
    bad = copy.deepcopy(peer_authentication)
    bad["spec"]["mtls"]["mode"] = "STRICTEST"
    with pytest.raises(jsonschema.ValidationError, match="STRICTEST"):
        validate_istio(bad)


def test_kind_without_a_crd_fails_validation(validate_istio: Callable[[Document], None]) -> None:
    with pytest.raises(jsonschema.ValidationError, match="no Istio CRD"):
        validate_istio({"apiVersion": "networking.istio.io/v9", "kind": "Gateway",
                        "metadata": {"name": "x", "namespace": "y"}, "spec": {}})


def test_kustomization_lists_every_resource_file_and_nothing_else(
    load_documents: Callable[[Path], list[Document]],
) -> None:
    (kustomization,) = load_documents(ISTIO_DIR / "kustomization.yaml")
    assert set(kustomization["resources"]) == {str(path.relative_to(ISTIO_DIR)) for path in RESOURCE_FILES}


def test_transcoder_envoy_filter_is_inserted_before_the_ingress_gateway_router(
    committed_transcoder_filter: Document,
) -> None:
    spec = committed_transcoder_filter["spec"]
    (patch,) = spec["configPatches"]
    assert committed_transcoder_filter["apiVersion"] == "networking.istio.io/v1alpha3"
    assert spec["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    assert patch["applyTo"] == "HTTP_FILTER"
    assert patch["match"]["context"] == "GATEWAY"
    assert patch["match"]["listener"]["filterChain"]["filter"]["subFilter"] == {"name": "envoy.filters.http.router"}
    assert patch["patch"]["operation"] == "INSERT_BEFORE"
    assert patch["patch"]["value"]["name"] == "envoy.filters.http.grpc_json_transcoder"


def test_every_tracing_provider_the_telemetry_names_is_defined_in_the_shipped_mesh_config(
    load_documents: Callable[[Path], list[Document]],
) -> None:
    (operator,) = load_documents(INSTALL_DIR / "mesh-config.yaml")
    defined = {provider["name"] for provider in operator["spec"]["meshConfig"]["extensionProviders"]}
    (telemetry,) = load_documents(ISTIO_DIR / "mesh" / "telemetry.yaml")
    named = {provider["name"] for tracing in telemetry["spec"]["tracing"] for provider in tracing["providers"]}
    assert named and named <= defined


def test_the_tracing_provider_sends_to_the_collector_the_cluster_runs(
    load_documents: Callable[[Path], list[Document]],
) -> None:
    (operator,) = load_documents(INSTALL_DIR / "mesh-config.yaml")
    (provider,) = operator["spec"]["meshConfig"]["extensionProviders"]
    service, namespace = provider["opentelemetry"]["service"].split(".")[:2]
    collectors = [doc for doc in load_documents(ISTIO_DIR.parent / "k8s" / "observability" / "jaeger.yaml")
                  if doc["kind"] == "Service" and doc["metadata"]["name"] == service]
    (collector,) = collectors
    assert collector["metadata"]["namespace"] == namespace
    assert provider["opentelemetry"]["port"] in {port["port"] for port in collector["spec"]["ports"]}


def test_matchings_shards_may_reach_each_other_only_with_a_users_token_on_its_http_methods(
    load_documents: Callable[[Path], list[Document]],
) -> None:
    (policy,) = load_documents(ISTIO_DIR / "policies" / "matching-authz.yaml")
    shards = "cluster.local/ns/clearmesh/sa/matching"
    (relayed,) = [rule for rule in policy["spec"]["rules"] if shards in rule["from"][0]["source"]["principals"]]
    (ingress,) = [rule for rule in policy["spec"]["rules"]
                  if "istio-ingressgateway" in rule["from"][0]["source"]["principals"][0]]

    assert relayed["from"][0]["source"]["requestPrincipals"] == ["*"]  # a user's JWT, never the shard's own
    assert relayed["to"] == ingress["to"]  # what a user may call through the ingress, nothing more
