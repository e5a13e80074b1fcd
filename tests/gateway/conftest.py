"""Compiles the gwtest coverage proto once per session into a FileDescriptorSet."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc_tools
import pytest
from grpc_tools import protoc

from gateway.transcode import RuleSet, Transcoder, load_rules

PROTO_ROOT = Path(__file__).parent / "protos"


def _googleapis_include() -> Path:
    # `google` is a namespace package spread over several dirs: look for the file itself.
    for entry in sys.path:
        candidate = Path(entry) / "google" / "api" / "annotations.proto"
        if candidate.is_file():
            return candidate.parents[2]
    raise RuntimeError("googleapis-common-protos .proto files not found on sys.path")


def compile_descriptor_set(out_dir: Path, proto: str = "gwtest/v1/echo.proto") -> bytes:
    out = out_dir / "descriptor.binpb"
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{_googleapis_include()}",
        f"-I{well_known}",
        f"--descriptor_set_out={out}",
        "--include_imports",
        "--include_source_info",
        proto,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {proto}")
    return out.read_bytes()


@pytest.fixture(scope="session")
def descriptor_set(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return compile_descriptor_set(tmp_path_factory.mktemp("gwtest"))


@pytest.fixture(scope="session")
def transcoder(descriptor_set: bytes) -> Transcoder:
    return Transcoder.from_descriptor_set(descriptor_set)


@pytest.fixture(scope="session")
def rules(transcoder: Transcoder) -> RuleSet:
    return transcoder.rules


@pytest.fixture(scope="session")
def fresh_rules(descriptor_set: bytes) -> RuleSet:
    return load_rules(descriptor_set)
