"""The committed Envoy and Istio files are what the descriptor set yields, and --check notices drift."""

from __future__ import annotations

from pathlib import Path

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from gateway.descriptor import load_descriptor_set
from gateway.envoy.options import EdgeOptions
from gateway.envoy.render import main, render_files, stale_files, write_files
from services.runtime.settings import Settings


def test_committed_files_are_up_to_date_with_the_descriptor_set(repo_root: Path) -> None:
    assert stale_files(repo_root, render_files()) == [], "run `python -m gateway.envoy.render`"


def test_check_passes_on_a_freshly_rendered_tree(tmp_path: Path) -> None:
    write_files(tmp_path, render_files())
    assert main(["--check", "--out", str(tmp_path)]) == 0


def test_check_fails_when_a_generated_file_was_edited_by_hand(tmp_path: Path) -> None:
    write_files(tmp_path, render_files())
    policy = tmp_path / "istio" / "policies" / "wallet-authz.yaml"
    policy.write_text(policy.read_text().replace("sa/settlement", "sa/order"))
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_check_fails_when_a_generated_file_is_missing(tmp_path: Path) -> None:
    files = render_files()
    write_files(tmp_path, files)
    (tmp_path / "istio" / "edge" / "transcoder.yaml").unlink()
    assert stale_files(tmp_path, files) == ["istio/edge/transcoder.yaml"]


def _without_http_binding(descriptor_set: bytes, method_name: str) -> bytes:
    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    for file_proto in file_set.file:
        for service in file_proto.service:
            for method in service.method:
                if f"/{file_proto.package}.{service.name}/{method.name}" == method_name:
                    options = descriptor_pb2.MethodOptions.FromString(method.options.SerializeToString())
                    options.ClearExtension(annotations_pb2.http)  # type: ignore[arg-type]  # .pyi: extension as FieldDescriptor
                    method.options.CopyFrom(options)
    return file_set.SerializeToString()


def test_a_contract_change_makes_the_committed_files_stale(repo_root: Path) -> None:
    changed = _without_http_binding(load_descriptor_set(), "/clearmesh.order.v1.OrderService/CancelOrder")
    stale = stale_files(repo_root, render_files(changed))
    assert {"gateway/envoy/envoy.yaml", "istio/edge/transcoder.yaml", "istio/policies/order-authz.yaml"} <= set(stale)
    assert "istio/policies/wallet-authz.yaml" not in stale


def test_a_deployment_render_takes_rate_limit_cors_and_jwt_from_its_settings() -> None:
    settings = Settings(rate_limit_per_minute=120, rate_limit_burst=30, cors_allowed_origins="https://app.example",
                        CLEARMESH_JWT_ISSUER="issuer-x", CLEARMESH_JWT_AUDIENCE="audience-x")
    options = EdgeOptions.from_settings(settings)
    assert (options.rate_limit_per_minute, options.rate_limit_burst) == (120, 30)
    assert options.cors_allowed_origins == ("https://app.example",)
    assert (options.jwt_issuer, options.jwt_audience) == ("issuer-x", "audience-x")
