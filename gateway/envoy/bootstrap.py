"""The standalone Envoy v3 bootstrap of the REST edge: one listener, the edge filters, one cluster per service.

Filter order, and why:
  health_check   first: /healthz is answered by Envoy itself, never authenticated, limited or
                 transcoded (the transcoder rejects unknown paths with 404);
  cors           before authentication: it answers preflights, which carry no token;
  jwt_authn      HS256 tokens of the platform (issuer/audience "clearmesh"); forwarded
                 upstream, where each service verifies them again (defence in depth);
  local_ratelimit  one token bucket per Envoy: RATE_LIMIT_PER_MINUTE refill, RATE_LIMIT_BURST size;
  grpc_json_transcoder  REST → gRPC from the descriptor set (see transcoder.py);
  router         routes on the post-transcoding gRPC path, one prefix per service.
"""

from __future__ import annotations

import math
from typing import Any

from gateway.envoy.contract import Service
from gateway.envoy.options import EdgeOptions
from gateway.envoy.transcoder import transcoder_filter

HEALTH_PATH = "/healthz"
JWT_PROVIDER = "clearmesh"
CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = "authorization, content-type, x-request-id, traceparent, tracestate"
TYPE_PREFIX = "type.googleapis.com/envoy.extensions"
ALWAYS = {"numerator": 100, "denominator": "HUNDRED"}
UNROUTED_CLUSTER = "unrouted"  # no endpoints: whatever reaches it gets 503


def _health_check_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.health_check",
        "typed_config": {
            "@type": f"{TYPE_PREFIX}.filters.http.health_check.v3.HealthCheck",
            "pass_through_mode": False,
            "headers": [{"name": ":path", "string_match": {"exact": HEALTH_PATH}}],
        },
    }


def _cors_filter() -> dict[str, Any]:
    # The policy itself sits on the virtual host (typed_per_filter_config).
    return {"name": "envoy.filters.http.cors", "typed_config": {"@type": f"{TYPE_PREFIX}.filters.http.cors.v3.Cors"}}


def _cors_policy(origins: tuple[str, ...]) -> dict[str, Any]:
    return {
        "@type": f"{TYPE_PREFIX}.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [{"exact": origin} for origin in origins],
        "allow_methods": CORS_ALLOW_METHODS,
        "allow_headers": CORS_ALLOW_HEADERS,
        "max_age": "600",
    }


def _jwt_filter(options: EdgeOptions) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": f"{TYPE_PREFIX}.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {
                JWT_PROVIDER: {
                    "issuer": options.jwt_issuer,
                    "audiences": [options.jwt_audience],
                    # HS256 needs a JWKS with an "oct" key: `python -m gateway.envoy.jwks` turns
                    # JWT_SECRET into one. In the mesh, use remote_jwks instead.
                    "local_jwks": {"environment_variable": options.jwks_env_var},
                    "forward": True,
                },
            },
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": JWT_PROVIDER}}],
        },
    }


def token_bucket(per_minute: int, burst: int) -> dict[str, Any]:
    """RATE_LIMIT_PER_MINUTE as the smallest whole-token refill: 600/min → 10 tokens every 1 s."""
    step = math.gcd(per_minute, 60)
    return {"max_tokens": burst, "tokens_per_fill": per_minute // step, "fill_interval": f"{60 // step}s"}


def _rate_limit_filter(options: EdgeOptions) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": f"{TYPE_PREFIX}.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "edge_rate_limit",
            "token_bucket": token_bucket(options.rate_limit_per_minute, options.rate_limit_burst),
            # Both default to 0 %: without them the bucket is counted but never enforced.
            "filter_enabled": {"runtime_key": "edge_rate_limit.enabled", "default_value": ALWAYS},
            "filter_enforced": {"runtime_key": "edge_rate_limit.enforced", "default_value": ALWAYS},
        },
    }


def _router_filter() -> dict[str, Any]:
    return {"name": "envoy.filters.http.router",
            "typed_config": {"@type": f"{TYPE_PREFIX}.filters.http.router.v3.Router"}}


def http_filters(descriptor_set: bytes, services: tuple[Service, ...], options: EdgeOptions) -> list[dict[str, Any]]:
    return [
        _health_check_filter(),
        _cors_filter(),
        _jwt_filter(options),
        _rate_limit_filter(options),
        transcoder_filter(descriptor_set, services),
        _router_filter(),
    ]


def routes(services: tuple[Service, ...], options: EdgeOptions) -> list[dict[str, Any]]:
    """Route on the gRPC path the transcoder produced.

    1. Internal methods (no HTTP binding) are not the edge's to serve, even to a native gRPC
       client (the transcoder passes those through): 404, like the Python edge.
    2. Server streams: no route timeout, they stay open.
    3. One prefix per service.
    4. A catch-all for the CORS filter, which runs before transcoding, when a REST path matches
       no gRPC prefix yet: it needs a forwarding route to find the virtual host's policy on.
       Only untranscodable native gRPC reaches it (the transcoder refuses unknown REST paths),
       and its cluster has no endpoints.
    """
    internal = [
        {"match": {"path": method.grpc_path}, "direct_response": {"status": 404}}
        for service in services for method in service.methods if not method.http_bound
    ]
    streams = [
        {"match": {"path": method.grpc_path}, "route": {"cluster": service.name, "timeout": "0s"}}
        for service in services for method in service.methods if method.server_streaming and method.http_bound
    ]
    prefixes = [
        {"match": {"prefix": service.grpc_prefix},
         "route": {"cluster": service.name, "timeout": f"{options.unary_timeout_seconds}s"}}
        for service in services if service.http_bound
    ]
    fallback = {"match": {"prefix": "/"}, "route": {"cluster": UNROUTED_CLUSTER}}
    return [*internal, *streams, *prefixes, fallback]


def _virtual_host(services: tuple[Service, ...], options: EdgeOptions) -> dict[str, Any]:
    host: dict[str, Any] = {"name": "clearmesh", "domains": ["*"], "routes": routes(services, options)}
    if options.cors_allowed_origins:
        host["typed_per_filter_config"] = {"envoy.filters.http.cors": _cors_policy(options.cors_allowed_origins)}
    return host


def _socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _cluster(service: Service, options: EdgeOptions) -> dict[str, Any]:
    endpoint = {"endpoint": {"address": _socket_address(options.upstream_host, options.upstream_ports[service.name])}}
    return {
        "name": service.name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {"cluster_name": service.name, "endpoints": [{"lb_endpoints": [endpoint]}]},
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": f"{TYPE_PREFIX}.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},  # gRPC upstreams
            },
        },
    }


def bootstrap(descriptor_set: bytes, services: tuple[Service, ...], options: EdgeOptions) -> dict[str, Any]:
    connection_manager = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": f"{TYPE_PREFIX}.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "edge",
            "codec_type": "AUTO",
            "route_config": {"name": "clearmesh", "virtual_hosts": [_virtual_host(services, options)]},
            "http_filters": http_filters(descriptor_set, services, options),
        },
    }
    return {
        "admin": {"address": _socket_address("127.0.0.1", options.admin_port)},
        "static_resources": {
            "listeners": [{
                "name": "edge",
                "address": _socket_address("0.0.0.0", options.listen_port),
                "filter_chains": [{"filters": [connection_manager]}],
            }],
            "clusters": [
                *(_cluster(service, options) for service in services if service.http_bound),
                {"name": UNROUTED_CLUSTER, "type": "STATIC", "load_assignment": {"cluster_name": UNROUTED_CLUSTER}},
            ],
        },
    }
