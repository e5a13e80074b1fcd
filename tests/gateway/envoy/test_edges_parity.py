"""Both edges expose exactly the same services and routes: Envoy's transcoder and the Python edge.

The Envoy side is read back from the committed files (the base64 descriptor and `services` of
the transcoder, the route tables), independently of the renderer; the Python side is what
gateway.transcode serves.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from clearmesh.kyc.v1 import kyc_service_pb2
from clearmesh.matching.v1 import matching_service_pb2
from clearmesh.order.v1 import order_service_pb2
from clearmesh.settlement.v1 import settlement_service_pb2
from clearmesh.wallet.v1 import wallet_service_pb2
from gateway.descriptor import load_descriptor_set
from gateway.transcode import load_rules
from services.runtime.auth import access_rules

FIVE_SERVICES = {
    "clearmesh.kyc.v1.KycService",
    "clearmesh.matching.v1.MatchingService",
    "clearmesh.order.v1.OrderService",
    "clearmesh.settlement.v1.SettlementService",
    "clearmesh.wallet.v1.WalletService",
}
INGRESS = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
EDGE = "cluster.local/ns/clearmesh/sa/edge"
Document = dict[str, Any]
RouteKey = tuple[str, str, str]  # (HTTP method, path template, gRPC path)


def _transcoder_of_bootstrap(bootstrap: Document) -> Document:
    manager = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (transcoder,) = [f for f in manager["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"]
    config: Document = transcoder["typed_config"]
    return config


def _transcoder_of_envoy_filter(envoy_filter: Document) -> Document:
    config: Document = envoy_filter["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]
    return config


def _bindings(rule: Any) -> list[Any]:
    return [rule, *rule.additional_bindings]


def envoy_routes(transcoder: Document) -> set[RouteKey]:
    """Every google.api.http binding of the services the transcoder is told to serve."""
    file_set = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(transcoder["proto_descriptor_bin"]))
    served = set(transcoder["services"])
    routes: set[RouteKey] = set()
    for file_proto in file_set.file:
        for service in file_proto.service:
            full_name = f"{file_proto.package}.{service.name}"
            if full_name not in served:
                continue
            for method in service.method:
                options = descriptor_pb2.MethodOptions.FromString(method.options.SerializeToString())
                if not options.HasExtension(annotations_pb2.http):  # type: ignore[arg-type]  # .pyi: extension as FieldDescriptor
                    continue
                for rule in _bindings(options.Extensions[annotations_pb2.http]):  # type: ignore[index]  # .pyi: extension as FieldDescriptor
                    kind = rule.WhichOneof("pattern")
                    verb, path = (rule.custom.kind, rule.custom.path) if kind == "custom" else (kind, getattr(rule, kind))
                    routes.add((verb.upper(), path, f"/{full_name}/{method.name}"))
    return routes


@pytest.fixture(scope="module")
def python_routes() -> set[RouteKey]:
    rules = load_rules(load_descriptor_set())
    return {(route.http_method, route.template.source, route.grpc_path) for route in rules.routes}


def test_python_edge_serves_the_five_services(python_routes: set[RouteKey]) -> None:
    assert {grpc_path.split("/")[1] for _, _, grpc_path in python_routes} == FIVE_SERVICES


def test_standalone_envoy_transcodes_exactly_the_python_edge_routes(
    committed_bootstrap: Document, python_routes: set[RouteKey],
) -> None:
    transcoder = _transcoder_of_bootstrap(committed_bootstrap)
    assert set(transcoder["services"]) == FIVE_SERVICES
    assert envoy_routes(transcoder) == python_routes


def test_ingress_envoy_transcodes_exactly_the_python_edge_routes(
    committed_transcoder_filter: Document, python_routes: set[RouteKey],
) -> None:
    transcoder = _transcoder_of_envoy_filter(committed_transcoder_filter)
    assert set(transcoder["services"]) == FIVE_SERVICES
    assert envoy_routes(transcoder) == python_routes


def test_standalone_and_ingress_transcoders_are_configured_identically(
    committed_bootstrap: Document, committed_transcoder_filter: Document,
) -> None:
    assert _transcoder_of_bootstrap(committed_bootstrap) == _transcoder_of_envoy_filter(committed_transcoder_filter)


def test_standalone_route_table_has_one_prefix_per_service_each_to_its_cluster(committed_bootstrap: Document) -> None:
    manager = committed_bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (host,) = manager["route_config"]["virtual_hosts"]
    clusters = {cluster["name"]: cluster for cluster in committed_bootstrap["static_resources"]["clusters"]}
    served = {name for name, cluster in clusters.items() if cluster["load_assignment"].get("endpoints")}
    prefixes = {route["match"]["prefix"]: route["route"]["cluster"] for route in host["routes"]
                if "prefix" in route["match"] and route["route"]["cluster"] in served}
    assert set(prefixes) == {f"/{service}/" for service in FIVE_SERVICES}
    assert all(prefix.startswith(f"/clearmesh.{cluster}.v1.") for prefix, cluster in prefixes.items())
    assert set(prefixes.values()) == served


def test_standalone_routes_cover_every_transcoded_method(
    committed_bootstrap: Document, python_routes: set[RouteKey],
) -> None:
    manager = committed_bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (host,) = manager["route_config"]["virtual_hosts"]
    for _, _, grpc_path in python_routes:
        first = next(route for route in host["routes"]
                     if route["match"].get("path") == grpc_path or grpc_path.startswith(route["match"].get("prefix", "\0")))
        assert first["route"]["cluster"] == grpc_path.split(".")[1]


def test_standalone_edge_answers_404_for_every_method_without_an_http_binding(
    committed_bootstrap: Document, python_routes: set[RouteKey],
) -> None:
    manager = committed_bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (host,) = manager["route_config"]["virtual_hosts"]
    refused = {route["match"]["path"] for route in host["routes"] if route.get("direct_response") == {"status": 404}}
    bound = {grpc_path for _, _, grpc_path in python_routes}
    assert refused == set(load_rules(load_descriptor_set()).unbound_methods)
    assert not refused & bound


def test_ingress_virtual_service_routes_one_prefix_per_service(
    load_documents: Any, repo_root: Any,
) -> None:
    (virtual_service,) = load_documents(repo_root / "istio" / "edge" / "virtual-service.yaml")
    prefixes = {match["uri"]["prefix"] for route in virtual_service["spec"]["http"] for match in route["match"]}
    assert prefixes == {f"/{service}/" for service in FIVE_SERVICES}


def _authorization_policies(load_documents: Any, repo_root: Any) -> list[Document]:
    return [doc for path in sorted((repo_root / "istio" / "policies").glob("*-authz.yaml"))
            for doc in load_documents(path)]


@pytest.mark.parametrize("edge", [INGRESS, EDGE], ids=["istio-ingress", "python-edge"])
def test_each_edge_may_call_exactly_the_methods_with_an_http_binding(
    load_documents: Any, repo_root: Any, python_routes: set[RouteKey], edge: str,
) -> None:
    allowed: set[str] = set()
    for policy in _authorization_policies(load_documents, repo_root):
        for rule in policy["spec"]["rules"]:
            (source,) = [entry["source"] for entry in rule["from"]]
            if source.get("principals") == [edge] and "requestPrincipals" in source:
                assert source["requestPrincipals"] == ["*"]  # only with a validated JWT
                allowed.update(path for op in rule["to"] for path in op["operation"]["paths"])
    assert allowed == {grpc_path for _, _, grpc_path in python_routes}


def test_the_python_edge_may_ask_every_service_its_health_without_a_user_token(
    load_documents: Any, repo_root: Any,
) -> None:
    for policy in _authorization_policies(load_documents, repo_root):
        assert {"from": [{"source": {"principals": [EDGE]}}],
                "to": [{"operation": {"paths": ["/grpc.health.v1.Health/Check"]}}]} in policy["spec"]["rules"]


def test_services_may_call_exactly_the_methods_their_contract_grants_them(
    load_documents: Any, repo_root: Any,
) -> None:
    modules = (kyc_service_pb2, matching_service_pb2, order_service_pb2, settlement_service_pb2, wallet_service_pb2)
    services = [service for module in modules for service in module.DESCRIPTOR.services_by_name.values()]
    expected = {(caller, path) for path, rule in access_rules(services).items() for caller in rule.services}
    granted: set[tuple[str, str]] = set()
    for policy in _authorization_policies(load_documents, repo_root):
        for rule in policy["spec"]["rules"]:
            (source,) = [entry["source"] for entry in rule["from"]]
            if source.get("principals") in ([INGRESS], [EDGE]) or "requestPrincipals" in source:
                continue  # the edges, or a user's call a Matching shard relays (with the user's JWT)
            (principal,) = source["principals"]
            caller = principal.removeprefix("cluster.local/ns/clearmesh/sa/")
            granted.update((caller, path) for op in rule["to"] for path in op["operation"]["paths"])
    assert granted == expected
