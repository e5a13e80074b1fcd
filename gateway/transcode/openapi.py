"""OpenAPI 3.1 document for the routes of a RuleSet, in the proto3 JSON mapping.

* One operation per binding; ``operationId`` = ``Service_Method`` (``_<n>`` for the n-th
  additional binding, since ids must be unique); tag = service full name.
* Multi-segment path variables are expanded into their literal segments so distinct
  resources never collapse into the same OpenAPI path: ``/v1/{name=shelves/*/books/*}``
  becomes ``/v1/shelves/{shelve}/books/{book}`` (each wildcard named after the collection
  before it, trailing ``s`` dropped); ``x-proto-field`` on each parameter names the field.
* Schemas: int64 family as strings, enums as string enums, Timestamp ``date-time``,
  Duration/FieldMask strings, wrappers nullable, maps → ``additionalProperties``, repeated
  → arrays, oneofs described only. ``google.api.field_behavior`` REQUIRED → ``required``,
  OUTPUT_ONLY → ``readOnly``.
* What the services enforce (``enforced.py``): resource-name, decimal-string and
  ``request_id`` patterns, a required enum's ``*_UNSPECIFIED`` refused, ids per collection in
  path parameters, no unknown fields (``additionalProperties: false``).
* Links (AIP-122 names): an operation answering a resource links to every operation whose
  path names that resource, each segment cut from the answer's ``name`` with Schemathesis'
  ``#regex:`` extractor (OpenAPI expressions cannot split a string; other tools see the
  pointer ``/name`` before the marker).
* Errors: ``default`` response = ``google.rpc.Status``; bearer JWT security scheme.
"""

from __future__ import annotations

import re
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor

from gateway.transcode.comments import leading_comments
from gateway.transcode.enforced import Enforced, behaviors, date_keywords, id_regex, is_required
from gateway.transcode.fields import TextKind, field_entry
from gateway.transcode.rules import Route, RuleSet
from gateway.transcode.template import SegmentKind, Variable

FieldDescriptor = descriptor.FieldDescriptor
Schema = dict[str, Any]

STATUS_SCHEMA_NAME = "google.rpc.Status"
SECURITY_SCHEME = "bearerAuth"
MAX_QUERY_DEPTH = 3  # nested query parameters: a.b.c at most; stops recursive messages

_SCALARS: dict[int, Schema] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
}

_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    # At most 11 digits of seconds: always inside the type's ±10,000 years.
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]{1,11}(\.[0-9]{1,9})?s$", "example": "1.5s"},
    "google.protobuf.FieldMask": {"type": "string", "example": "title,authorName"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
}
_WRAPPERS = {
    "google.protobuf.DoubleValue": FieldDescriptor.TYPE_DOUBLE,
    "google.protobuf.FloatValue": FieldDescriptor.TYPE_FLOAT,
    "google.protobuf.Int64Value": FieldDescriptor.TYPE_INT64,
    "google.protobuf.UInt64Value": FieldDescriptor.TYPE_UINT64,
    "google.protobuf.Int32Value": FieldDescriptor.TYPE_INT32,
    "google.protobuf.UInt32Value": FieldDescriptor.TYPE_UINT32,
    "google.protobuf.BoolValue": FieldDescriptor.TYPE_BOOL,
    "google.protobuf.StringValue": FieldDescriptor.TYPE_STRING,
    "google.protobuf.BytesValue": FieldDescriptor.TYPE_BYTES,
}

_STATUS_SCHEMA: Schema = {
    "type": "object",
    "description": "google.rpc.Status; `code` is the gRPC status code, not the HTTP one.",
    "properties": {
        "code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
    },
    "required": ["code", "message", "details"],
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _singular(collection: str) -> str:
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    return collection[:-1] if collection.endswith("s") and len(collection) > 1 else collection


class _DocumentBuilder:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.comments = leading_comments(rules.files)
        self.enforced = Enforced(rules.files)
        self.schemas: dict[str, Schema] = {STATUS_SCHEMA_NAME: _STATUS_SCHEMA}
        self.pending: list[descriptor.Descriptor | descriptor.EnumDescriptor] = []

    # ---- schemas -------------------------------------------------------------------------
    def message_schema_ref(self, message_type: descriptor.Descriptor) -> Schema:
        if message_type.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message_type.full_name])
        if message_type.full_name in _WRAPPERS:
            inner = dict(_SCALARS[_WRAPPERS[message_type.full_name]])
            inner["type"] = [inner["type"], "null"]
            return inner
        if message_type.full_name not in self.schemas:
            self.schemas[message_type.full_name] = {}  # placeholder: recursion stops here
            self.pending.append(message_type)
        return _ref(message_type.full_name)

    def enum_schema_ref(self, enum_type: descriptor.EnumDescriptor) -> Schema:
        if enum_type.full_name not in self.schemas:
            self.schemas[enum_type.full_name] = {}
            self.pending.append(enum_type)
        return _ref(enum_type.full_name)

    def value_schema(self, field: FieldDescriptor) -> Schema:
        """Schema of one element of the field (ignores repetition)."""
        if field.message_type is not None:
            return self.message_schema_ref(field.message_type)
        if field.enum_type is not None:
            return self.enum_schema_ref(field.enum_type)
        return dict(_SCALARS[field.type])

    def field_schema(self, field: FieldDescriptor) -> Schema:
        message_type = field.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            value = message_type.fields_by_name["value"]
            schema: Schema = {"type": "object", "additionalProperties": self.value_schema(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.value_schema(field)}
        else:
            schema = self.value_schema(field)
        description = self.comments.get(field.full_name)
        if field.containing_oneof is not None:
            siblings = ", ".join(f.json_name for f in field.containing_oneof.fields)
            oneof_note = f"Only one of {siblings} may be set (oneof {field.containing_oneof.name})."
            description = f"{description} {oneof_note}" if description else oneof_note
        if field_behavior_pb2.OUTPUT_ONLY in behaviors(field):
            schema = {**schema, "readOnly": True}
        schema = {**schema, **self.enforced.field_keywords(field)}
        if field.containing_type is not None:
            schema = {**schema, **date_keywords(field.containing_type, field)}
        if description:
            # In 3.1 a $ref may carry siblings such as description.
            schema = {**schema, "description": description}
        return schema

    def build_message(self, message_type: descriptor.Descriptor) -> Schema:
        properties = {field.json_name: self.field_schema(field) for field in message_type.fields}
        required = [field.json_name for field in message_type.fields if is_required(field)]
        # Unknown fields are refused (INVALID_FIELD_VALUE), so the document allows none.
        schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        if message_type.full_name in self.comments:
            schema["description"] = self.comments[message_type.full_name]
        return schema

    def build_enum(self, enum_type: descriptor.EnumDescriptor) -> Schema:
        schema: Schema = {"type": "string", "enum": [value.name for value in enum_type.values]}
        if enum_type.full_name in self.comments:
            schema["description"] = self.comments[enum_type.full_name]
        return schema

    def drain(self) -> None:
        while self.pending:
            item = self.pending.pop()
            if isinstance(item, descriptor.Descriptor):
                self.schemas[item.full_name] = self.build_message(item)
            else:
                self.schemas[item.full_name] = self.build_enum(item)

    # ---- operations ----------------------------------------------------------------------
    def path_and_parameters(self, route: Route) -> tuple[str, list[Schema]]:
        template = route.template
        owner: dict[int, Variable] = {}
        for variable in template.variables:
            for index in range(variable.start, variable.end if variable.end is not None else len(template.segments)):
                owner[index] = variable
        parts: list[str] = []
        parameters: list[Schema] = []
        used: set[str] = set()

        def add_parameter(name: str, field_path: str, description: str, pattern: str | None = None) -> str:
            unique = name
            counter = 2
            while unique in used:
                unique = f"{name}{counter}"
                counter += 1
            used.add(unique)
            parameters.append(
                {
                    "name": unique,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": f"^{pattern}$"} if pattern else {"type": "string"},
                    "description": description,
                    "x-proto-field": field_path,
                }
            )
            return "{" + unique + "}"

        for index, segment in enumerate(template.segments):
            segment_owner = owner.get(index)
            if segment.kind is SegmentKind.LITERAL:
                parts.append(segment.literal)
            elif segment_owner is not None and len(segment_owner.segments) == 1:
                note = " May contain '/'." if segment.kind is SegmentKind.DEEP else ""
                field_path = segment_owner.field_path
                parts.append(add_parameter(field_path, field_path, f"`{field_path}`.{note}"))
            else:
                previous = template.segments[index - 1] if index else None
                base = _singular(previous.literal) if previous and previous.kind is SegmentKind.LITERAL else "segment"
                field_path = segment_owner.field_path if segment_owner is not None else ""
                pattern = segment_owner.pattern if segment_owner is not None else str(segment)
                collection = previous.literal if previous and previous.kind is SegmentKind.LITERAL else ""
                id_pattern = id_regex(collection) if segment.kind is SegmentKind.SINGLE else None
                parts.append(add_parameter(base, field_path, f"Segment of `{field_path}` (`{pattern}`).", id_pattern))
        path = "/" + "/".join(parts)
        if template.verb:
            path += ":" + template.verb
        return path, parameters

    def query_parameters(self, route: Route) -> list[Schema]:
        if route.body == "*":
            return []
        bound = {tuple(v.field_path.split(".")) for v in route.template.variables}
        parameters: list[Schema] = []

        def walk(message_type: descriptor.Descriptor, proto_prefix: tuple[str, ...], json_prefix: str, seen: tuple[str, ...]) -> None:
            for field in message_type.fields:
                proto_path = (*proto_prefix, field.name)
                if proto_path in bound or (not proto_prefix and field.name == route.body):
                    continue
                entry = field_entry(field)
                name = f"{json_prefix}{field.json_name}"
                if entry.kind is TextKind.NESTED:
                    child = field.message_type
                    if child is not None and len(proto_path) < MAX_QUERY_DEPTH and child.full_name not in seen:
                        walk(child, proto_path, name + ".", (*seen, child.full_name))
                    continue
                if entry.kind is TextKind.FORBIDDEN:
                    continue
                schema = self.field_schema(field)
                description = schema.pop("description", None)
                parameter: Schema = {"name": name, "in": "query", "required": is_required(field), "schema": schema}
                if field.is_repeated:
                    parameter.update(style="form", explode=True)
                if description:
                    parameter["description"] = description
                parameters.append(parameter)

        message_type: descriptor.Descriptor = route.input_type.DESCRIPTOR  # type: ignore[assignment]  # stubs: Descriptor | upb twin
        walk(message_type, (), "", (message_type.full_name,))
        return parameters

    def request_body(self, route: Route) -> Schema | None:
        if not route.body:
            return None
        input_type: descriptor.Descriptor = route.input_type.DESCRIPTOR  # type: ignore[assignment]  # stubs: Descriptor | upb twin
        if route.body == "*":
            top_bound = {v.field_path for v in route.template.variables if "." not in v.field_path}
            if top_bound:
                # Path-bound fields must not repeat in the body (collisions are refused).
                body_fields = [f for f in input_type.fields if f.name not in top_bound]
                schema: Schema = {
                    "type": "object",
                    "properties": {f.json_name: self.field_schema(f) for f in body_fields},
                    "additionalProperties": False,
                }
                required = [f.json_name for f in body_fields if is_required(f)]
                if required:
                    schema["required"] = required
            else:
                schema = self.message_schema_ref(input_type)
        else:
            schema = self.field_schema(input_type.fields_by_name[route.body])
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def success_response(self, route: Route) -> Schema:
        output_type: descriptor.Descriptor = route.output_type.DESCRIPTOR  # type: ignore[assignment]  # stubs: Descriptor | upb twin
        if route.response_body:
            schema = self.field_schema(output_type.fields_by_name[route.response_body])
        else:
            schema = self.message_schema_ref(output_type)
        if route.server_streaming:
            return {
                "description": "A stream: one JSON message per line; a failure ends it with a line "
                '`{"error": <google.rpc.Status>}`.',
                "content": {"application/x-ndjson": {"schema": schema}},
            }
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}

    def operation(self, route: Route) -> tuple[str, Schema]:
        path, parameters = self.path_and_parameters(route)
        service_short = route.service_name.rsplit(".", 1)[-1]
        suffix = f"_{route.binding_index}" if route.binding_index else ""
        operation: Schema = {
            "operationId": f"{service_short}_{route.method_name}{suffix}",
            "tags": [route.service_name],
            "parameters": parameters + self.query_parameters(route),
            "responses": {
                "200": self.success_response(route),
                "default": {
                    "description": "An error: the google.rpc.Status of the failed call.",
                    "content": {"application/json": {"schema": _ref(STATUS_SCHEMA_NAME)}},
                },
            },
            "x-grpc-method": route.grpc_path,
        }
        comment = self.comments.get(f"{route.service_name}.{route.method_name}")
        if comment:
            operation["summary"] = comment.split(". ")[0]
            operation["description"] = comment
        body = self.request_body(route)
        if body is not None:
            operation["requestBody"] = body
        return path, operation


def _segment_extractor(pattern: str, wildcard: int) -> str:
    """A regex over a resource name capturing its ``wildcard``-th id (``orders/*``, 0 → the id)."""
    parts: list[str] = []
    seen = 0
    for part in pattern.split("/"):
        if part == "*":
            parts.append("([^/]+)" if seen == wildcard else "[^/]+")
            seen += 1
        else:
            parts.append(re.escape(part))
    return "^" + "/".join(parts) + "$"


def _add_links(routes: list[tuple[Route, Schema]], enforced: Enforced) -> None:
    """Links from each operation answering a resource to the operations whose path names it."""
    for source, source_operation in routes:
        output: descriptor.Descriptor = source.output_type.DESCRIPTOR  # type: ignore[assignment]  # stubs: Descriptor | upb twin
        pattern = enforced.patterns.get(output.full_name)
        if pattern is None or source.response_body or source.server_streaming or "name" not in output.fields_by_name:
            continue
        wildcards = re.sub(r"\{[^}]+\}", "*", pattern)
        links: Schema = {}
        for target, target_operation in routes:
            variable = next((v for v in target.template.variables if v.pattern == wildcards), None)
            if variable is None or target_operation is source_operation:
                continue
            segment_parameters = [p["name"] for p in target_operation["parameters"]
                                  if p["in"] == "path" and p["x-proto-field"] == variable.field_path]
            links[target_operation["operationId"]] = {
                "operationId": target_operation["operationId"],
                "parameters": {
                    name: f"$response.body#/name#regex:{_segment_extractor(wildcards, index)}"
                    for index, name in enumerate(segment_parameters)
                },
                "description": f"`{variable.field_path}` is the answer's `name`.",
            }
        if links:
            source_operation["responses"]["200"]["links"] = links


def build_openapi(rules: RuleSet, *, title: str = "clearmesh", version: str = "v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of ``rules``."""
    builder = _DocumentBuilder(rules)
    paths: dict[str, dict[str, Schema]] = {}
    built: list[tuple[Route, Schema]] = []
    for route in rules.routes:
        path, operation = builder.operation(route)
        methods = paths.setdefault(path, {})
        method = route.http_method.lower()
        if method in methods:
            raise ValueError(f"two bindings render as {route.http_method} {path}")
        methods[method] = operation
        built.append((route, operation))
    _add_links(built, builder.enforced)
    builder.drain()
    service_names = sorted({route.service_name for route in rules.routes})
    tags = []
    for name in service_names:
        tag: Schema = {"name": name}
        if name in builder.comments:
            tag["description"] = builder.comments[name]
        tags.append(tag)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "tags": tags,
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "securitySchemes": {SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
