"""The Envoy bootstrap parses strictly into Envoy's API types (envoy-data-plane), every typed_config included.

envoy-data-plane's betterproto2 messages reject unknown fields and resolve each Any's @type
against the registered Envoy messages, so a misspelt option or filter type fails here. It does
not evaluate protoc-gen-validate rules; test_envoy_binary.py runs Envoy itself for those.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import betterproto2
import pytest

from gateway.envoy.bootstrap import bootstrap, token_bucket
from gateway.descriptor import load_descriptor_set
from gateway.envoy.contract import load_services
from gateway.envoy.options import EdgeOptions

with warnings.catch_warnings():
    # The generated envoy-data-plane models use a pydantic idiom deprecated in 2.12.
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap
    from envoy_data_plane.envoy.extensions.filters.http.cors.v3 import Cors
    from envoy_data_plane.envoy.extensions.filters.http.grpc_json_transcoder.v3 import GrpcJsonTranscoder
    from envoy_data_plane.envoy.extensions.filters.http.health_check.v3 import HealthCheck
    from envoy_data_plane.envoy.extensions.filters.http.jwt_authn.v3 import JwtAuthentication
    from envoy_data_plane.envoy.extensions.filters.http.local_ratelimit.v3 import LocalRateLimit
    from envoy_data_plane.envoy.extensions.filters.http.router.v3 import Router
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import HttpConnectionManager
    from envoy_data_plane.envoy.extensions.upstreams.http import v3 as upstream_http  # noqa: F401 (registers types)

# Importing a module registers its messages for Any resolution; in the filter order of the bootstrap.
FILTER_CLASSES = {
    "envoy.filters.http.health_check": HealthCheck,
    "envoy.filters.http.cors": Cors,
    "envoy.filters.http.jwt_authn": JwtAuthentication,
    "envoy.filters.http.local_ratelimit": LocalRateLimit,
    "envoy.filters.http.grpc_json_transcoder": GrpcJsonTranscoder,
    "envoy.filters.http.router": Router,
}
Document = dict[str, Any]


def _http_filters_of(config: Document) -> list[Document]:
    listener = config["static_resources"]["listeners"][0]
    filters: list[Document] = listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
    return filters


def _connection_manager(parsed: Bootstrap) -> Any:
    any_config = parsed.static_resources.listeners[0].filter_chains[0].filters[0].typed_config
    return any_config.unpack()


@pytest.fixture(scope="module")
def parsed(committed_bootstrap: Document) -> Bootstrap:
    return Bootstrap.from_dict(committed_bootstrap)


def test_bootstrap_parses_strictly_as_envoy_bootstrap(parsed: Bootstrap) -> None:
    assert isinstance(_connection_manager(parsed), HttpConnectionManager)
    assert [cluster.name for cluster in parsed.static_resources.clusters] == \
        ["kyc", "matching", "order", "settlement", "wallet", "unrouted"]


@pytest.mark.parametrize("filter_name", list(FILTER_CLASSES))
def test_each_http_filter_config_is_its_own_envoy_message(parsed: Bootstrap, filter_name: str) -> None:
    filters = {f.name: f for f in _connection_manager(parsed).http_filters}
    assert isinstance(filters[filter_name].typed_config.unpack(), FILTER_CLASSES[filter_name])


def test_http_filters_run_health_cors_jwt_ratelimit_transcoder_router(committed_bootstrap: Document) -> None:
    assert [f["name"] for f in _http_filters_of(committed_bootstrap)] == list(FILTER_CLASSES)


def test_cors_policy_parses_as_envoy_cors_policy() -> None:
    descriptor_set = load_descriptor_set()
    options = EdgeOptions(cors_allowed_origins=("https://app.example",))
    parsed = Bootstrap.from_dict(bootstrap(descriptor_set, load_services(descriptor_set), options))
    (host,) = _connection_manager(parsed).route_config.virtual_hosts
    policy = host.typed_per_filter_config["envoy.filters.http.cors"].unpack()
    assert [match.exact for match in policy.allow_origin_string_match] == ["https://app.example"]


def test_unknown_field_in_a_filter_config_is_rejected(committed_bootstrap: Document) -> None:
    bad = copy.deepcopy(committed_bootstrap)
    transcoder = _http_filters_of(bad)[4]["typed_config"]
    transcoder["print_options"]["always_print_primitive_fieldz"] = True
    with pytest.raises(KeyError, match="always_print_primitive_fieldz"):
        Bootstrap.from_dict(bad)


def test_unknown_field_in_the_bootstrap_is_rejected(committed_bootstrap: Document) -> None:
    bad = copy.deepcopy(committed_bootstrap)
    bad["static_resources"]["clusters"][0]["conect_timeout"] = "1s"
    with pytest.raises(KeyError, match="conect_timeout"):
        Bootstrap.from_dict(bad)


def test_filter_config_of_an_unknown_type_is_rejected(committed_bootstrap: Document) -> None:
    bad = copy.deepcopy(committed_bootstrap)
    _http_filters_of(bad)[1]["typed_config"]["@type"] = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Corz"
    with pytest.raises(TypeError, match="Corz"):
        Bootstrap.from_dict(bad)


def test_transcoder_options_are_pinned_as_in_the_conventions(parsed: Bootstrap) -> None:
    filters = {f.name: f for f in _connection_manager(parsed).http_filters}
    transcoder = filters["envoy.filters.http.grpc_json_transcoder"].typed_config.unpack()
    assert transcoder.proto_descriptor_bin == load_descriptor_set()
    assert transcoder.print_options.always_print_primitive_fields
    assert transcoder.print_options.stream_newline_delimited
    assert not transcoder.print_options.preserve_proto_field_names
    assert transcoder.convert_grpc_status
    validation = transcoder.request_validation_options
    assert validation.reject_unknown_method
    assert validation.reject_unknown_query_parameters
    assert validation.reject_binding_body_field_collisions
    assert not transcoder.match_incoming_request_route


def test_jwt_provider_checks_issuer_and_audience_and_forwards_the_token(parsed: Bootstrap) -> None:
    filters = {f.name: f for f in _connection_manager(parsed).http_filters}
    jwt = filters["envoy.filters.http.jwt_authn"].typed_config.unpack()
    provider = jwt.providers["clearmesh"]
    assert (provider.issuer, provider.audiences, provider.forward) == ("clearmesh", ["clearmesh"], True)
    assert provider.local_jwks.environment_variable == "CLEARMESH_JWKS"
    assert [rule.requires.provider_name for rule in jwt.rules] == ["clearmesh"]


def test_health_check_answers_healthz_itself(parsed: Bootstrap) -> None:
    filters = {f.name: f for f in _connection_manager(parsed).http_filters}
    health = filters["envoy.filters.http.health_check"].typed_config.unpack()
    assert health.pass_through_mode is False
    assert [header.string_match.exact for header in health.headers] == ["/healthz"]


def test_clusters_speak_http2_to_the_local_service_ports(parsed: Bootstrap) -> None:
    ports = {}
    for cluster in parsed.static_resources.clusters:
        if cluster.name == "unrouted":
            assert cluster.load_assignment.endpoints == []
            continue
        options = cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        assert options.unpack().explicit_http_config.http2_protocol_options is not None
        (endpoint,) = cluster.load_assignment.endpoints[0].lb_endpoints
        ports[cluster.name] = endpoint.endpoint.address.socket_address.port_value
    assert ports == {"order": 50051, "matching": 50052, "wallet": 50053, "kyc": 50054, "settlement": 50055}


def test_rate_limit_defaults_to_600_a_minute_with_a_burst_of_100(committed_bootstrap: Document) -> None:
    limiter = _http_filters_of(committed_bootstrap)[3]["typed_config"]
    assert limiter["token_bucket"] == {"max_tokens": 100, "tokens_per_fill": 10, "fill_interval": "1s"}
    assert limiter["filter_enforced"]["default_value"] == {"numerator": 100, "denominator": "HUNDRED"}


def test_token_bucket_refills_the_per_minute_rate_in_whole_tokens() -> None:
    assert token_bucket(100, 20) == {"max_tokens": 20, "tokens_per_fill": 5, "fill_interval": "3s"}
    assert token_bucket(7, 1) == {"max_tokens": 1, "tokens_per_fill": 7, "fill_interval": "60s"}


def test_betterproto_messages_are_the_strict_kind() -> None:
    # Guards the premise of this file: from_dict rejects unknown fields by default.
    assert issubclass(Bootstrap, betterproto2.Message)
    with pytest.raises(KeyError):
        Bootstrap.from_dict({"no_such_field": 1})
