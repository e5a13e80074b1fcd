"""Shared fixtures for the Envoy/Istio edge tests: the committed files, the rendered ones, Istio's schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.envoy.render import ENVOY_BOOTSTRAP, REPO_ROOT
from tests.testkit.istio_schemas import validate_istio as validate_istio_resource

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


@pytest.fixture(scope="session")
def validate_istio() -> Callable[[Document], None]:
    """Raise jsonschema.ValidationError if a resource is not valid for Istio's schemas (CEL rules not evaluated)."""
    return validate_istio_resource
