"""The Istio resources that follow from the contracts: transcoder, edge routes, authorization, retries.

Hand-written ones (mTLS, Gateway, RequestAuthentication, deny-all, Telemetry) sit beside them
under istio/; this module only renders what a contract change must change.
"""

from __future__ import annotations

from typing import Any

from gateway.envoy.bootstrap import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS
from gateway.envoy.contract import Method, Service
from gateway.envoy.transcoder import FILTER_NAME, transcoder_config

NAMESPACE = "clearmesh"
INGRESS_NAMESPACE = "istio-system"
INGRESS_PRINCIPAL = f"cluster.local/ns/{INGRESS_NAMESPACE}/sa/istio-ingressgateway-service-account"
# The Python REST edge (`clearmesh serve edge`) runs in the namespace as its own workload.
EDGE_PRINCIPAL = f"cluster.local/ns/{NAMESPACE}/sa/edge"
# The edge's /healthz asks every service's overall health, with no user token.
HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check"
EDGE_GATEWAY = "clearmesh-edge"
GRPC_PORT = 50051  # every service listens here in its own pod
RETRY_ON = "unavailable,cancelled,resource-exhausted"
UNARY_TIMEOUT = "10s"
NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"


def host(service: Service) -> str:
    return f"{service.name}.{NAMESPACE}.svc.cluster.local"


def service_principal(caller: str) -> str:
    return f"cluster.local/ns/{NAMESPACE}/sa/{caller}"


def _destination(service: Service) -> list[dict[str, Any]]:
    return [{"destination": {"host": host(service), "port": {"number": GRPC_PORT}}}]


def transcoder_envoy_filter(descriptor_set: bytes, services: tuple[Service, ...]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "grpc-json-transcoder", "namespace": INGRESS_NAMESPACE},
        "spec": {
            "workloadSelector": {"labels": {"istio": "ingressgateway"}},
            "configPatches": [{
                "applyTo": "HTTP_FILTER",
                "match": {
                    "context": "GATEWAY",
                    "listener": {"filterChain": {"filter": {
                        "name": "envoy.filters.network.http_connection_manager",
                        "subFilter": {"name": "envoy.filters.http.router"},
                    }}},
                },
                "patch": {
                    "operation": "INSERT_BEFORE",
                    "value": {"name": FILTER_NAME, "typed_config": transcoder_config(descriptor_set, services)},
                },
            }],
        },
    }


def edge_virtual_service(services: tuple[Service, ...], cors_allowed_origins: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ingress routes on the post-transcoding gRPC path: one prefix per external service.

    CORS is answered at the ingress, as the Python edge answers it: the same methods and
    headers; the origins are the deployment's (CORS_ALLOWED_ORIGINS, or an overlay's patch).
    """
    cors: dict[str, Any] = {
        "allowOrigins": [{"exact": origin} for origin in cors_allowed_origins],
        "allowMethods": [method.strip() for method in CORS_ALLOW_METHODS.split(",")],
        "allowHeaders": [header.strip() for header in CORS_ALLOW_HEADERS.split(",")],
        "maxAge": "24h",
    }
    return {
        "apiVersion": NETWORKING,
        "kind": "VirtualService",
        "metadata": {"name": EDGE_GATEWAY, "namespace": NAMESPACE},
        "spec": {
            "hosts": ["*"],
            "gateways": [EDGE_GATEWAY],
            "http": [
                {"name": service.name, "match": [{"uri": {"prefix": service.grpc_prefix}}],
                 "corsPolicy": cors, "route": _destination(service)}
                for service in services if service.http_bound
            ],
        },
    }


def _paths(methods: list[Method]) -> list[str]:
    return [method.grpc_path for method in methods]


def authorization_policy(service: Service) -> dict[str, Any]:
    """ALLOW the ingress and the Python edge (with a validated JWT) on HTTP-bound methods, the
    edge on the health check, each calling service on its methods. A service in shards also
    lets its own shards relay a user's HTTP-bound call to the shard that owns its market, with
    the user's JWT (services/matching/relay.py): never as the service itself.

    Roles and ownership stay with the service: the mesh decides who may reach which method.
    Together with deny-all, a method no rule names is unreachable.
    """
    rules: list[dict[str, Any]] = []
    external = [method for method in service.methods if method.http_bound]
    relays = [service_principal(service.name)] if service.name in SHARDED else []
    if external:
        for edge in (INGRESS_PRINCIPAL, EDGE_PRINCIPAL, *relays):
            rules.append({
                "from": [{"source": {"principals": [edge], "requestPrincipals": ["*"]}}],
                "to": [{"operation": {"paths": _paths(external)}}],
            })
    rules.append({
        "from": [{"source": {"principals": [EDGE_PRINCIPAL]}}],
        "to": [{"operation": {"paths": [HEALTH_CHECK_PATH]}}],
    })
    for caller in sorted({caller for method in service.methods for caller in method.callers}):
        allowed = [method for method in service.methods if caller in method.callers]
        rules.append({
            "from": [{"source": {"principals": [service_principal(caller)]}}],
            "to": [{"operation": {"paths": _paths(allowed)}}],
        })
    return {
        "apiVersion": SECURITY,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": service.name, "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": {"app": service.name}}, "action": "ALLOW", "rules": rules},
    }


def destination_rule(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": NETWORKING,
        "kind": "DestinationRule",
        "metadata": {"name": service.name, "namespace": NAMESPACE},
        "spec": {
            "host": host(service),
            "trafficPolicy": {
                "tls": {"mode": "ISTIO_MUTUAL"},
                "connectionPool": {"http": {"http2MaxRequests": 1000}},
                "outlierDetection": {
                    "consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50,
                },
            },
        },
    }


SHARDED = {"matching": "matching-shards"}  # a service in shards → its headless Service (k8s/base)


def shard_destination_rule(service: Service) -> dict[str, Any]:
    """mTLS to each shard's own address (`matching-N.matching-shards...`), which the callers
    dial to reach the shard that owns a market. No outlier detection: a shard is the only
    writer of its markets, there is no other endpoint to send them to."""
    headless = SHARDED[service.name]
    return {
        "apiVersion": NETWORKING,
        "kind": "DestinationRule",
        "metadata": {"name": headless, "namespace": NAMESPACE},
        "spec": {"host": f"{headless}.{NAMESPACE}.svc.cluster.local",
                 "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
    }


def _exact(methods: list[Method]) -> list[dict[str, Any]]:
    return [{"uri": {"exact": method.grpc_path}} for method in methods]


def service_virtual_service(service: Service) -> dict[str, Any]:
    """Retries only where a repeat changes nothing (a GET, or a request_id); streams never time out."""
    streams = [method for method in service.methods if method.server_streaming]
    retryable = [method for method in service.methods if method.idempotent and not method.server_streaming]
    routes: list[dict[str, Any]] = []
    if streams:
        routes.append({"name": "streams", "match": _exact(streams), "timeout": "0s",
                       "retries": {"attempts": 0}, "route": _destination(service)})
    if retryable:
        routes.append({"name": "idempotent", "match": _exact(retryable), "timeout": UNARY_TIMEOUT,
                       "retries": {"attempts": 3, "perTryTimeout": "3s", "retryOn": RETRY_ON},
                       "route": _destination(service)})
    # Istio retries twice by default: everything else must not be repeated.
    routes.append({"name": "default", "timeout": UNARY_TIMEOUT, "retries": {"attempts": 0},
                   "route": _destination(service)})
    return {
        "apiVersion": NETWORKING,
        "kind": "VirtualService",
        "metadata": {"name": service.name, "namespace": NAMESPACE},
        "spec": {"hosts": [host(service)], "http": routes},
    }
