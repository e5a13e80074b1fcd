"""Shared fixtures for the Envoy/Istio edge tests: the committed files, the rendered ones, Istio's CRDs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gateway.envoy.render import ENVOY_BOOTSTRAP, REPO_ROOT

CRDS = Path("schemas") / "istio" / "crds.gen.yaml"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the 280 kB base64 lines fast
Document = dict[str, Any]


def _load(path: Path) -> list[Document]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.load_all(stream, Loader=Loader) if doc is not None]


@pytest.fixture(scope="session")
def load_documents() -> Callable[[Path], list[Document]]:
    return _load


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def committed_bootstrap() -> Document:
    (document,) = _load(REPO_ROOT / ENVOY_BOOTSTRAP)
    return document


@pytest.fixture(scope="session")
def committed_transcoder_filter() -> Document:
    (document,) = _load(REPO_ROOT / "istio" / "edge" / "transcoder.yaml")
    return document


def _shared_dir() -> Path:
    """shared/ sits beside the clone in CI; a worktree elsewhere points at it with CLEARMESH_SHARED_DIR."""
    return Path(os.environ.get("CLEARMESH_SHARED_DIR", REPO_ROOT.parent / "shared"))


def _closed(schema: Any) -> Any:
    """Close every object schema that declares properties, as `kubectl --validate=strict` does.

    The CRDs leave additionalProperties out (the API server prunes unknown fields), so a misspelt
    field would pass silently; x-kubernetes-preserve-unknown-fields keeps a schema open.
    """
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _closed(value) for key, value in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        result["additionalProperties"] = False
    return result


@pytest.fixture(scope="session")
def istio_schemas() -> dict[tuple[str, str], Document]:
    """(apiVersion, kind) → the closed openAPIV3Schema of that CRD version."""
    path = _shared_dir() / CRDS
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"Istio CRD schemas not found at {path}")
        pytest.skip(f"Istio CRD schemas not found at {path}; set CLEARMESH_SHARED_DIR")
    schemas: dict[tuple[str, str], Document] = {}
    for crd in _load(path):
        spec = crd["spec"]
        for version in spec["versions"]:
            key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            schemas[key] = _closed(version["schema"]["openAPIV3Schema"])
    return schemas


@pytest.fixture(scope="session")
def validate_istio(istio_schemas: dict[tuple[str, str], Document]) -> Callable[[Document], None]:
    """Raise jsonschema.ValidationError if a resource is not valid for its CRD (CEL rules not evaluated)."""

    def validate(resource: Document) -> None:
        schema = istio_schemas.get((resource["apiVersion"], resource["kind"]))
        if schema is None:
            raise jsonschema.ValidationError(f"no Istio CRD for {resource['apiVersion']} {resource['kind']}")
        metadata = resource.get("metadata", {})
        if not metadata.get("name") or not metadata.get("namespace"):
            raise jsonschema.ValidationError(f"{resource['kind']} needs metadata.name and metadata.namespace")
        # apiVersion, kind and metadata are Kubernetes' own; the CRD schema covers spec (and status).
        jsonschema.Draft7Validator(schema).validate({"spec": resource["spec"]})

    return validate
