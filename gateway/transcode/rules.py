"""Load a FileDescriptorSet once and turn every ``google.api.http`` binding into a Route.

Works over any descriptor set (ours or a test one): messages are built in a private
DescriptorPool so generated ``*_pb2`` modules imported elsewhere never clash with it.
Everything a request needs later (message classes, templates, field maps) is resolved here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message, message_factory

from gateway.transcode.fields import BOOL_WRAPPER, STRING_FORM_TYPES
from gateway.transcode.template import PathTemplate, TemplateSyntaxError, parse_template

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class RuleError(ValueError):
    """A binding that cannot be served: bad template, unknown field, misplaced body."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP binding of one RPC (the primary rule or one additional_binding)."""

    http_method: str  # upper case: GET, POST, ... or a custom verb's kind
    template: PathTemplate
    body: str  # "" (no body), "*" or a top-level field name
    response_body: str  # "" or a top-level response field name
    grpc_path: str  # "/pkg.Service/Method"
    service_name: str  # "pkg.Service"
    method_name: str
    method: descriptor.MethodDescriptor = field(repr=False, compare=False)
    input_type: type[message.Message] = field(repr=False, compare=False)
    output_type: type[message.Message] = field(repr=False, compare=False)
    client_streaming: bool = False
    server_streaming: bool = False
    binding_index: int = 0  # 0 = primary rule, n = n-th additional binding
    options: descriptor_pb2.MethodOptions = field(default_factory=descriptor_pb2.MethodOptions, repr=False, compare=False)

@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything loaded from one descriptor set."""

    pool: descriptor_pool.DescriptorPool
    routes: tuple[Route, ...]
    unbound_methods: tuple[str, ...]  # gRPC paths without an http option (gRPC only)
    files: tuple[descriptor_pb2.FileDescriptorProto, ...] = field(repr=False)

def _method_options(raw: descriptor_pb2.MethodOptions) -> descriptor_pb2.MethodOptions:
    """Re-parse options so the http extension is decoded even if it was parsed as unknown.

    A FileDescriptorSet parsed before ``google.api.annotations_pb2`` was imported keeps the
    extension as unknown bytes; a round trip through the wire form against the default pool
    (which now knows the extension) decodes it.
    """
    return descriptor_pb2.MethodOptions.FromString(raw.SerializeToString())


def _rule_pattern(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        raise RuleError("http rule without a pattern")
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return kind.upper(), getattr(rule, kind)


def _resolve_field_path(message_type: descriptor.Descriptor, path: str) -> descriptor.FieldDescriptor:
    current: descriptor.Descriptor | None = message_type
    found: descriptor.FieldDescriptor | None = None
    for name in path.split("."):
        if current is None:
            raise RuleError(f"{path!r}: {found.name if found else ''} is not a message")
        found = current.fields_by_name.get(name)
        if found is None:
            raise RuleError(f"{message_type.full_name} has no field {path!r}")
        if found.is_repeated:
            raise RuleError(f"{path!r} is repeated and cannot be bound in a path")
        current = found.message_type
    if found is None:
        raise RuleError(f"{message_type.full_name}: an empty field path")
    leaf_type = found.message_type
    if leaf_type is not None and leaf_type.full_name not in STRING_FORM_TYPES and leaf_type.full_name != BOOL_WRAPPER:
        raise RuleError(f"{path!r} is a message; a path can only bind a scalar or a string-form well-known type")
    return found


def _validate(route: Route) -> None:
    input_descriptor: descriptor.Descriptor = route.input_type.DESCRIPTOR  # type: ignore[assignment]  # stubs: Descriptor | upb twin
    for variable in route.template.variables:
        _resolve_field_path(input_descriptor, variable.field_path)
    if route.body not in ("", "*"):
        body_field = input_descriptor.fields_by_name.get(route.body)
        if body_field is None:
            raise RuleError(f"{route.grpc_path}: body {route.body!r} is not a top-level field")
    if route.response_body and route.output_type.DESCRIPTOR.fields_by_name.get(route.response_body) is None:
        raise RuleError(f"{route.grpc_path}: response_body {route.response_body!r} is not a field")


def _routes_for_method(
    service: descriptor.ServiceDescriptor,
    method: descriptor.MethodDescriptor,
    method_proto: descriptor_pb2.MethodDescriptorProto,
) -> Iterator[Route]:
    options = _method_options(method_proto.options)
    if not options.HasExtension(annotations_pb2.http):  # type: ignore[arg-type]  # .pyi: extension as FieldDescriptor
        return
    if method_proto.client_streaming:
        # AIP-127: streaming requests get no HTTP binding; this edge does not transcode them.
        raise RuleError(f"/{service.full_name}/{method.name}: client streaming RPCs cannot have an http rule")
    primary: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]  # type: ignore[index]  # .pyi: extension as FieldDescriptor
    # additional_bindings nest one level only (http.proto); deeper ones are ignored like GW does.
    for index, rule in enumerate([primary, *primary.additional_bindings]):
        http_method, path = _rule_pattern(rule)
        try:
            template = parse_template(path)
        except TemplateSyntaxError as exc:
            raise RuleError(f"/{service.full_name}/{method.name}: {exc}") from exc
        route = Route(
            http_method=http_method,
            template=template,
            body=rule.body,
            response_body=rule.response_body,
            grpc_path=f"/{service.full_name}/{method.name}",
            service_name=service.full_name,
            method_name=method.name,
            method=method,
            input_type=message_factory.GetMessageClass(method.input_type),
            output_type=message_factory.GetMessageClass(method.output_type),
            client_streaming=method_proto.client_streaming,
            server_streaming=method_proto.server_streaming,
            binding_index=index,
            options=options,
        )
        _validate(route)
        yield route


def load_rules(descriptor_set: bytes, *, services: frozenset[str] | None = None) -> RuleSet:
    """Load a serialized FileDescriptorSet (built with ``--include_imports``).

    ``services`` limits exposure to the named services (full names), like Envoy's
    ``services`` setting; None exposes every service that has bindings.
    """
    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    pool = descriptor_pool.DescriptorPool()
    for file_proto in file_set.file:
        pool.Add(file_proto)
    routes: list[Route] = []
    unbound: list[str] = []
    for file_proto in file_set.file:
        for service_proto in file_proto.service:
            full_name = f"{file_proto.package}.{service_proto.name}" if file_proto.package else service_proto.name
            if services is not None and full_name not in services:
                continue
            service = pool.FindServiceByName(full_name)
            for method_proto in service_proto.method:
                method = service.methods_by_name[method_proto.name]
                bound = list(_routes_for_method(service, method, method_proto))
                if not bound:
                    unbound.append(f"/{full_name}/{method.name}")
                routes.extend(bound)
    return RuleSet(pool=pool, routes=tuple(routes), unbound_methods=tuple(unbound), files=tuple(file_set.file))
