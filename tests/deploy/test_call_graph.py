"""Who may call whom, four ways that must agree: the channels the code dials (scanned from each
service package: `channel("kyc")`, `runtime.matching` for Matching's shards; the edge dials every service it has a route to), the
NetworkPolicies, the AuthorizationPolicies, and the contracts' access options (plus a service in
shards calling itself: a shard relays a user's call to the market's owner, as that user)."""

from __future__ import annotations

import re

import pytest
from tests.testkit.manifests import REPO_ROOT, Document, load_documents, of_kind

from gateway.descriptor import load_descriptor_set
from gateway.edge.upstream import service_key
from gateway.envoy.contract import load_services
from gateway.envoy.istio import HEALTH_CHECK_PATH, SHARDED, service_principal
from gateway.transcode import load_rules
from services.registry import SERVICE_NAMES, load_spec
from services.runtime.auth import access_rules

Graph = dict[str, set[str]]
CHANNEL = re.compile(r"""channel\(\s*["'](\w+)["']\s*\)""")
SHARDS = re.compile(r"runtime\.matching\b")  # the channels to Matching's shards (runtime/shards.py)
ISTIO = REPO_ROOT / "istio"


def dialled_by_the_code() -> Graph:
    graph: Graph = {}
    for name in SERVICE_NAMES:
        sources = (REPO_ROOT / "services" / name).rglob("*.py")
        texts = [path.read_text() for path in sources]
        callees = {callee for text in texts for callee in CHANNEL.findall(text)}
        callees |= {"matching" for text in texts if SHARDS.search(text)}
        if callees:
            graph[name] = callees
    graph["edge"] = {service_key(route.grpc_path.split("/")[1])
                     for route in load_rules(load_descriptor_set()).routes}
    return graph


def _apps(selectors: list[Document]) -> set[str]:
    return {peer["podSelector"]["matchLabels"]["app"] for peer in selectors
            if "podSelector" in peer and "namespaceSelector" not in peer}


def allowed_egress(base: list[Document]) -> Graph:
    graph: Graph = {}
    for policy in of_kind(base, "NetworkPolicy"):
        spec = policy["spec"]
        caller = spec["podSelector"].get("matchLabels", {}).get("app")
        for rule in spec.get("egress", []):
            if caller and (callees := _apps(rule.get("to", []))):
                graph.setdefault(caller, set()).update(callees)
    return graph


def allowed_ingress(base: list[Document]) -> Graph:
    graph: Graph = {}
    for policy in of_kind(base, "NetworkPolicy"):
        spec = policy["spec"]
        callee = spec["podSelector"].get("matchLabels", {}).get("app")
        for rule in spec.get("ingress", []):
            for caller in _apps(rule.get("from", [])):
                graph.setdefault(caller, set()).add(callee)
    return graph


def _authorization_policies() -> list[Document]:
    return [doc for path in sorted((ISTIO / "policies").glob("*-authz.yaml")) for doc in load_documents(path)]


def authorized_by_the_mesh() -> Graph:
    principals = {service_principal(name): name for name in (*SERVICE_NAMES, "edge")}
    graph: Graph = {}
    for policy in _authorization_policies():
        callee = policy["spec"]["selector"]["matchLabels"]["app"]
        for rule in policy["spec"]["rules"]:
            for source in rule["from"]:
                for principal in source["source"].get("principals", []):
                    if principal in principals:
                        graph.setdefault(principals[principal], set()).add(callee)
    return graph


def granted_by_the_contracts() -> Graph:
    graph: Graph = {}
    for name in SERVICE_NAMES:
        for rule in access_rules([load_spec(name).descriptor]).values():
            for caller in rule.services:
                graph.setdefault(caller, set()).add(name)
    graph["edge"] = set(SERVICE_NAMES)  # every service has methods with an HTTP binding
    for name in SHARDED:  # a shard relays users' HTTP-bound calls to its sibling shards
        graph.setdefault(name, set()).add(name)
    return graph


def test_network_policies_allow_each_call_at_both_ends(base: list[Document]) -> None:
    assert allowed_egress(base) == allowed_ingress(base)


def test_network_policies_allow_exactly_what_the_mesh_authorizes(base: list[Document]) -> None:
    assert allowed_egress(base) == authorized_by_the_mesh()


def test_the_mesh_authorizes_exactly_what_the_contracts_grant() -> None:
    assert authorized_by_the_mesh() == granted_by_the_contracts()


@pytest.mark.parametrize("caller", [*SERVICE_NAMES, "edge"])
def test_the_allowed_calls_are_the_calls_the_code_dials(base: list[Document], caller: str) -> None:
    assert allowed_egress(base).get(caller, set()) == dialled_by_the_code().get(caller, set())


def _real_paths() -> set[str]:
    services = load_services(load_descriptor_set())
    return {method.grpc_path for service in services for method in service.methods} | {HEALTH_CHECK_PATH}


def test_every_authorization_policy_names_real_grpc_methods() -> None:
    paths = {path for policy in _authorization_policies() for rule in policy["spec"]["rules"]
             for operation in rule["to"] for path in operation["operation"]["paths"]}
    assert paths and paths <= _real_paths()


def test_every_virtual_service_names_real_grpc_methods_and_services() -> None:
    services = {service.full_name for service in load_services(load_descriptor_set())}
    exact: set[str] = set()
    prefixes: set[str] = set()
    for path in [*(ISTIO / "traffic").glob("*.yaml"), ISTIO / "edge" / "virtual-service.yaml"]:
        for document in load_documents(path):
            if document["kind"] != "VirtualService":
                continue
            for route in document["spec"]["http"]:
                for match in route.get("match", []):
                    exact.update([match["uri"]["exact"]] if "exact" in match["uri"] else [])
                    prefixes.update([match["uri"]["prefix"]] if "prefix" in match["uri"] else [])
    assert exact and exact <= _real_paths()
    assert prefixes == {f"/{service}/" for service in services}
