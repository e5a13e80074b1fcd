"""Fixtures for the deployment tests: each overlay rendered once, the base's resources."""

from __future__ import annotations

import pytest
from tests.testkit.manifests import (
    OVERLAYS,
    Document,
    load_documents,
    manifest_files,
    render,
)


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Document]]:
    """overlay → its rendered resources."""
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def base() -> list[Document]:
    return [document for path in manifest_files() if "base" in path.parts for document in load_documents(path)]
