"""Response message → HTTP body bytes (docs/conventions.md: JSON, Streams).

JSON pins: zero values emitted (GW ``EmitUnpopulated``, Envoy ``always_print_primitive_fields``),
lowerCamel names, int64 as strings, enums by name, Timestamp RFC 3339.

Streaming framing, our decision: bare NDJSON (``application/x-ndjson``), one message
per line, **no** ``{"result": ...}`` envelope. A call that fails after the headers were sent
ends with one in-band line ``{"error": {"code": <gRPC int>, "message": ..., "details": [...]}}``
(the google.rpc.Status JSON of status.py). A message whose JSON were exactly ``{"error": ...}``
would be ambiguous, so streaming replies must not consist of a lone ``error`` field; ours
carry the terminal ``oneof {event, status}`` of docs/conventions.md (Streams) instead. The SSE encoder sends ``data: <json>\\n\\n`` per message and
``event: error\\ndata: <status json>\\n\\n`` for the failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from google.protobuf import descriptor_pool, message

from gateway.transcode.encoder import ReplyEncoder
from gateway.transcode.rules import Route

JSON_CONTENT_TYPE = "application/json"
NDJSON_CONTENT_TYPE = "application/x-ndjson"
SSE_CONTENT_TYPE = "text/event-stream"


class ResponseEncoder:
    """Encodes output messages of the routes of one descriptor pool."""

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._pool = pool
        self._encoder = ReplyEncoder(pool)  # json_format's mapping, compiled per message type

    def to_json_value(self, route: Route, reply: message.Message) -> Any:
        """The JSON value of a reply, narrowed to ``response_body`` when the rule has one."""
        document = self._encoder.encode(reply)
        if not route.response_body:
            return document
        field = reply.DESCRIPTOR.fields_by_name[route.response_body]
        # An unset message field has presence and is absent from the dict: answer null.
        return document.get(field.json_name)

    def unary(self, route: Route, reply: message.Message) -> bytes:
        return orjson.dumps(self.to_json_value(route, reply))

    def ndjson_message(self, route: Route, reply: message.Message) -> bytes:
        return orjson.dumps(self.to_json_value(route, reply)) + b"\n"

    def sse_message(self, route: Route, reply: message.Message) -> bytes:
        return b"data: " + orjson.dumps(self.to_json_value(route, reply)) + b"\n\n"


def ndjson_error(status: Mapping[str, Any]) -> bytes:
    """The in-band terminal line for a stream that failed after the headers were sent."""
    return orjson.dumps({"error": dict(status)}) + b"\n"


def sse_error(status: Mapping[str, Any]) -> bytes:
    return b"event: error\ndata: " + orjson.dumps(dict(status)) + b"\n\n"
