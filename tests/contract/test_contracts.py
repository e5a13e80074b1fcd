"""The contracts are the design's public surface, and the generated code matches them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import ServiceDescriptor

from services.registry import SERVICE_NAMES, load_spec

ROOT = Path(__file__).resolve().parents[2]
SURFACE = [line.split("\t") for line in (Path(__file__).parent / "public_surface.tsv").read_text().splitlines()
           if line and not line.startswith("#")]


def _services() -> dict[str, ServiceDescriptor]:
    return {load_spec(name).descriptor.name: load_spec(name).descriptor for name in SERVICE_NAMES}


def _binding(service: str, rpc: str) -> tuple[str, str, str]:
    method = _services()[service].methods_by_name[rpc]
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):  # type: ignore[arg-type]  # .pyi: extension as FieldDescriptor
        return ("internal", "-", "-")
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]  # type: ignore[index]  # .pyi: extension as FieldDescriptor
    verb = rule.WhichOneof("pattern")
    return (verb, getattr(rule, verb), rule.body or "-")


@pytest.mark.parametrize(("service", "rpc", "verb", "path", "body"), SURFACE,
                         ids=[f"{row[0]}.{row[1]}" for row in SURFACE])
def test_each_rpc_of_the_design_has_its_http_binding(service: str, rpc: str, verb: str, path: str, body: str) -> None:
    assert _binding(service, rpc) == (verb, path, body)


def test_the_contracts_hold_no_rpc_beyond_the_design_table() -> None:
    declared = {(service, rpc) for service, rpc, *_ in SURFACE}
    present = {(name, m.name) for name, d in _services().items() for m in d.methods}
    assert present == declared


def test_the_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "protogen.py"), "--out", str(tmp_path)], check=True)
    committed = ROOT / "protos" / "gen" / "python"
    fresh = tmp_path / "python"
    names = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
    assert names == {p.relative_to(committed) for p in committed.rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts}
    stale = [str(n) for n in sorted(names) if (fresh / n).read_bytes() != (committed / n).read_bytes()]
    assert not stale, f"run `make gen`: stale against protos/: {stale}"
