"""Each workload as deployed: hardened pods, native gRPC probes on the numeric port, a drain
shorter than the grace period, resources, a Service port named grpc, HPA, PDB, ServiceAccount;
and the replicas each overlay promises (Matching: one pod per shard, one writer per market)."""

from __future__ import annotations

import pytest
from tests.testkit.manifests import OVERLAYS, Document, find, of_kind

from services.registry import SERVICE_NAMES
from services.runtime.settings import Settings

WORKLOADS = (*SERVICE_NAMES, "edge")
GRPC_PORT = 50051
REPLICAS = {  # overlay → workload → replicas
    "dev": {"matching": 1, "wallet": 1, "edge": 1, "order": 1, "kyc": 1, "settlement": 1},
    "staging": {"matching": 2, "wallet": 2, "edge": 2, "order": 2, "kyc": 2, "settlement": 1},
    "prod": {"matching": 5, "wallet": 5, "edge": 3, "order": 3, "kyc": 3, "settlement": 1},
}


def workload(documents: list[Document], name: str) -> Document:
    (found,) = [d for d in of_kind(documents, "Deployment", "StatefulSet") if d["metadata"]["name"] == name]
    return found


def container(documents: list[Document], name: str) -> Document:
    (only,) = workload(documents, name)["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_pod_runs_as_non_root_on_a_read_only_root_with_no_capabilities(base: list[Document], name: str) -> None:
    pod = workload(base, name)["spec"]["template"]["spec"]
    security = container(base, name)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_probes_are_native_grpc_health_checks_on_the_numeric_port(base: list[Document], name: str) -> None:
    spec = container(base, name)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["grpc"] == {"port": GRPC_PORT}


def test_the_edge_probes_its_healthz(base: list[Document]) -> None:
    spec = container(base, "edge")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_grace_period_outlasts_the_drain(base: list[Document], name: str) -> None:
    drain = float(find(base, "ConfigMap", "clearmesh-settings")["data"]["CLEARMESH_SHUTDOWN_GRACE_SECS"])
    assert workload(base, name)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain


@pytest.mark.parametrize("name", WORKLOADS)
def test_requests_and_limits_are_set(base: list[Document], name: str) -> None:
    resources = container(base, name)["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_service_port_is_named_grpc_with_the_grpc_app_protocol(base: list[Document], name: str) -> None:
    ports = find(base, "Service", name)["spec"]["ports"]
    grpc_port = next(port for port in ports if port["name"] == "grpc")
    assert (grpc_port["port"], grpc_port["appProtocol"]) == (GRPC_PORT, "grpc")
    assert any(port["port"] == 9090 for port in ports)


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_pod_runs_as_its_own_service_account(base: list[Document], name: str) -> None:
    find(base, "ServiceAccount", name)
    assert workload(base, name)["spec"]["template"]["spec"]["serviceAccountName"] == name


@pytest.mark.parametrize("name", WORKLOADS)
def test_a_disruption_budget_covers_the_workload(base: list[Document], name: str) -> None:
    assert find(base, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == {"app": name}


@pytest.mark.parametrize("name", [name for name in WORKLOADS if name != "matching"])
def test_the_autoscaler_targets_cpu_70_and_memory_80_percent(base: list[Document], name: str) -> None:
    hpa = find(base, "HorizontalPodAutoscaler", name)
    targets = {metric["resource"]["name"]: metric["resource"]["target"]["averageUtilization"]
               for metric in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["spec"]["scaleTargetRef"]["name"] == name


def test_matching_is_a_stateful_set_with_no_autoscaler(base: list[Document]) -> None:
    assert workload(base, "matching")["kind"] == "StatefulSet"
    assert not [d for d in of_kind(base, "HorizontalPodAutoscaler") if d["metadata"]["name"] == "matching"]


def test_each_matching_pod_learns_its_shard_from_its_name(base: list[Document]) -> None:
    env = {item["name"]: item for item in container(base, "matching")["env"]}
    assert env["CLEARMESH_MATCHING_SHARD"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_the_shards_are_reached_through_a_headless_service_per_pod(base: list[Document]) -> None:
    stateful_set = workload(base, "matching")
    headless = find(base, "Service", stateful_set["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == {"app": "matching"}
    assert [port["name"] for port in headless["spec"]["ports"]] == ["grpc"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_shard_map_lists_every_matching_pod_in_order(rendered: dict[str, list[Document]], overlay: str) -> None:
    documents = rendered[overlay]
    stateful_set = workload(documents, "matching")
    shards = Settings(CLEARMESH_MATCHING_SHARDS=find(documents, "ConfigMap", "clearmesh-settings")["data"][
        "CLEARMESH_MATCHING_SHARDS"]).matching_shard_map().addresses
    namespace = find(documents, "Namespace", "clearmesh")["metadata"]["name"]
    assert shards == tuple(f"matching-{pod}.{stateful_set['spec']['serviceName']}.{namespace}.svc.cluster.local:{GRPC_PORT}"
                           for pod in range(stateful_set["spec"]["replicas"]))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_runs_its_promised_replicas(rendered: dict[str, list[Document]], overlay: str) -> None:
    documents = rendered[overlay]
    replicas = {name: workload(documents, name)["spec"]["replicas"] for name in WORKLOADS}
    assert replicas == REPLICAS[overlay]
    for name in WORKLOADS:
        if name != "matching":
            assert find(documents, "HorizontalPodAutoscaler", name)["spec"]["minReplicas"] == replicas[name]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_job_runs_before_the_rollout(rendered: dict[str, list[Document]], overlay: str) -> None:
    job = find(rendered[overlay], "Job", "clearmesh-migrate")
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    settings = find(rendered[overlay], "ConfigMap", "clearmesh-settings")["data"]
    assert settings["CLEARMESH_MIGRATE_ON_START"] == "false"
