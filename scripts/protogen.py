"""Regenerate the Python code and the descriptor set from `protos/`.

    python scripts/protogen.py            # writes protos/gen/python/clearmesh/ (+ descriptor.binpb)
    python scripts/protogen.py --out DIR  # writes elsewhere (the staleness test compares)

The googleapis protos we import (http annotations, field behaviour, rpc status and error
details, google.type.Date) are copied from the installed googleapis-common-protos package into
`build/protodeps/` — never written by hand — so protoc and buf resolve the same files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import google.api.annotations_pb2
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DEPS = ROOT / "build" / "protodeps"
GOOGLEAPIS = Path(google.api.annotations_pb2.__file__).resolve().parent.parent.parent
WELL_KNOWN = Path(grpc_tools.__file__).resolve().parent / "_proto"

# The googleapis files the contracts import, plus error_details, which the REST edge and
# Envoy's `convert_grpc_status` need in the descriptor set to render rich error details.
GOOGLEAPIS_FILES = (
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/api/field_behavior.proto",
    "google/api/resource.proto",
    "google/api/launch_stage.proto",
    "google/api/client.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "google/rpc/code.proto",
    "google/type/date.proto",
)
EXTRA_DESCRIPTOR_FILES = ("google/rpc/error_details.proto",)


def copy_googleapis(dest: Path = DEPS) -> Path:
    for rel in GOOGLEAPIS_FILES:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GOOGLEAPIS / rel, target)
    return dest


def contract_files() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in PROTOS.glob("clearmesh/**/*.proto"))


def run_protoc(args: list[str]) -> None:
    includes = [f"-I{PROTOS}", f"-I{DEPS}", f"-I{WELL_KNOWN}"]
    code = protoc.main(["protoc", *includes, *args])
    if code != 0:
        sys.exit(f"protoc failed ({code}) for {args[-1]} ...")


def generate(out: Path) -> None:
    copy_googleapis()
    python_out = out / "python"
    if python_out.exists():
        shutil.rmtree(python_out)
    python_out.mkdir(parents=True)
    files = contract_files()
    run_protoc([f"--python_out={python_out}", f"--pyi_out={python_out}",
                f"--grpc_python_out={python_out}", *files])
    # Regular packages (not namespace ones), so setuptools and type checkers find them.
    for directory in [python_out / "clearmesh", *(python_out / "clearmesh").rglob("*")]:
        if directory.is_dir():
            (directory / "__init__.py").touch()
    # Inside the package, so an installed clearmesh finds it with importlib.resources.
    descriptor = python_out / "clearmesh" / "descriptor.binpb"
    run_protoc([f"--descriptor_set_out={descriptor}", "--include_imports",
                "--include_source_info", *files, *EXTRA_DESCRIPTOR_FILES])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROTOS / "gen")
    parser.add_argument("--deps-only", action="store_true", help="only copy googleapis protos for buf")
    args = parser.parse_args()
    if args.deps_only:
        copy_googleapis()
        return
    generate(args.out)


if __name__ == "__main__":
    main()
