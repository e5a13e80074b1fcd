"""Every manifest, and every overlay as kustomize renders it, is valid: Kubernetes kinds against
the Kubernetes schemas (strict: unknown fields refused), Istio kinds against Istio's."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
from tests.testkit.istio_schemas import validate_istio
from tests.testkit.manifests import (
    K8S,
    OVERLAYS,
    Document,
    load_documents,
    manifest_files,
)

KUBERNETES_VERSION = "1.33.0"


def validate(document: Document) -> None:
    if document["apiVersion"].split("/")[0].endswith("istio.io"):
        validate_istio(document)
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: str(path.relative_to(K8S)))
def test_each_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    documents = load_documents(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_rendered_resource_of_an_overlay_validates(rendered: dict[str, list[Document]], overlay: str) -> None:
    for document in rendered[overlay]:
        validate(document)


def test_a_misspelt_field_fails_validation() -> None:
    (namespace, *_) = load_documents(K8S / "base" / "namespace.yaml")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**namespace, "metadta": {}}, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_names_its_own_tls_certificate(rendered: dict[str, list[Document]], overlay: str) -> None:
    gateway = next(d for d in rendered[overlay] if d["kind"] == "Gateway")
    assert gateway["spec"]["servers"][0]["tls"]["credentialName"] == f"clearmesh-{overlay}-tls"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_fills_the_jwks_uri_placeholder(rendered: dict[str, list[Document]], overlay: str) -> None:
    uris = {rule["jwksUri"] for d in rendered[overlay] if d["kind"] == "RequestAuthentication"
            for rule in d["spec"]["jwtRules"]}
    assert uris and all(uri.startswith("https://") and ".invalid/" not in uri for uri in uris)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_mesh_the_edge_and_the_services_trust_the_same_jwks(rendered: dict[str, list[Document]], overlay: str) -> None:
    uris = {rule["jwksUri"] for d in rendered[overlay] if d["kind"] == "RequestAuthentication"
            for rule in d["spec"]["jwtRules"]}
    settings = next(d for d in rendered[overlay] if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "clearmesh-settings")
    assert uris == {settings["data"]["CLEARMESH_JWKS"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_and_the_python_edge_allow_the_same_cors_origins(
        rendered: dict[str, list[Document]], overlay: str) -> None:
    documents = rendered[overlay]
    edge = next(d for d in documents if d["kind"] == "VirtualService" and d["metadata"]["name"] == "clearmesh-edge")
    ingress = [{origin["exact"] for origin in route["corsPolicy"]["allowOrigins"]} for route in edge["spec"]["http"]]
    settings = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "clearmesh-settings")
    configured = set(settings["data"]["CORS_ALLOWED_ORIGINS"].split(","))
    assert configured and all(origins == configured for origins in ingress)
