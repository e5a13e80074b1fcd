"""The grpc_json_transcoder filter, pinned as in docs/conventions.md (Envoy's transcoder options); shared by both Envoys.

The standalone bootstrap and the Istio ingress EnvoyFilter install this very dict, so the two
Envoy edges cannot drift from each other.
"""

from __future__ import annotations

import base64
from typing import Any

from gateway.envoy.contract import Service

FILTER_NAME = "envoy.filters.http.grpc_json_transcoder"
TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"


def exposed_services(services: tuple[Service, ...]) -> list[str]:
    """External services only: the ones with at least one google.api.http binding."""
    return [service.full_name for service in services if service.http_bound]


def transcoder_config(descriptor_set: bytes, services: tuple[Service, ...]) -> dict[str, Any]:
    return {
        "@type": TYPE_URL,
        # Inline, so the config is self-contained; includes imports, source info and
        # google/rpc/error_details.proto (needed by convert_grpc_status).
        "proto_descriptor_bin": base64.b64encode(descriptor_set).decode("ascii"),
        "services": exposed_services(services),
        "print_options": {
            "always_print_primitive_fields": True,
            "stream_newline_delimited": True,
        },
        "convert_grpc_status": True,
        "request_validation_options": {
            "reject_unknown_method": True,  # 404 instead of a pass-through that upstream resets
            "reject_unknown_query_parameters": True,  # 400
            "reject_binding_body_field_collisions": True,  # else the body silently wins
        },
        # Route on the post-transcoding gRPC path, like the Istio ingress does.
        "match_incoming_request_route": False,
    }


def transcoder_filter(descriptor_set: bytes, services: tuple[Service, ...]) -> dict[str, Any]:
    return {"name": FILTER_NAME, "typed_config": transcoder_config(descriptor_set, services)}
