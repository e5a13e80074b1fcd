"""The transcoder's EnvoyFilter carries the whole descriptor set: too big for client-side
`kubectl apply`, whose last-applied-configuration annotation may hold 262144 bytes at most,
but well within an object's limit. So the docs apply with --server-side, which keeps no such
annotation."""

from __future__ import annotations

import json
import re

from tests.testkit.manifests import REPO_ROOT, load_documents

ANNOTATION_LIMIT = 262_144  # bytes, all annotations of an object together
OBJECT_LIMIT = 1_048_576  # comfortably below etcd's 1.5 MiB request limit


def _transcoder_json_size() -> int:
    (envoy_filter,) = load_documents(REPO_ROOT / "istio" / "edge" / "transcoder.yaml")
    return len(json.dumps(envoy_filter, separators=(",", ":")).encode())


def test_the_transcoder_fits_in_one_kubernetes_object() -> None:
    assert _transcoder_json_size() < OBJECT_LIMIT


def test_the_deploy_guide_applies_every_manifest_server_side() -> None:
    # Client-side apply would copy the object into an annotation capped at ANNOTATION_LIMIT.
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    applies = re.findall(r"kubectl apply[^\n]*", guide)
    assert applies
    assert all("--server-side" in command for command in applies), applies
