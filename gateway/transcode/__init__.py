"""REST → gRPC transcoding core of the Python edge (pure transformation, no I/O).

Semantics follow grpc-gateway / Envoy's grpc_json_transcoder with the pins of
docs/conventions.md (REST transcoding). Entry point: ``Transcoder.from_descriptor_set(bytes)``.
"""

from gateway.transcode.errors import BadRequest, MethodNotAllowed, RouteNotFound, TranscodeError
from gateway.transcode.openapi import build_openapi
from gateway.transcode.response import (
    JSON_CONTENT_TYPE,
    NDJSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    ResponseEncoder,
    ndjson_error,
    sse_error,
)
from gateway.transcode.rules import Route, RuleError, RuleSet, load_rules
from gateway.transcode.status import error_json, http_status_for, status_json
from gateway.transcode.transcoder import TranscodedRequest, Transcoder

__all__ = [
    "JSON_CONTENT_TYPE",
    "NDJSON_CONTENT_TYPE",
    "SSE_CONTENT_TYPE",
    "BadRequest",
    "MethodNotAllowed",
    "ResponseEncoder",
    "Route",
    "RouteNotFound",
    "RuleError",
    "RuleSet",
    "TranscodeError",
    "TranscodedRequest",
    "Transcoder",
    "build_openapi",
    "error_json",
    "http_status_for",
    "load_rules",
    "ndjson_error",
    "sse_error",
    "status_json",
]
