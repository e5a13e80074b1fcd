"""What the Envoy and Istio renderers need to know about the contracts, read from the descriptor set.

Read straight from the serialized FileDescriptorSet (not from the generated modules), so the
files rendered here follow exactly the bytes Envoy is fed.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from clearmesh.type.v1 import access_pb2

# Service packages are `clearmesh.<name>.v1`; <name> is also the Kubernetes Service, the
# ServiceAccount and the local cluster name.
PACKAGE_PREFIX = "clearmesh."
# A request with this field is idempotent (AIP-155), so the mesh may retry it.
IDEMPOTENCY_FIELD = "request_id"


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    grpc_path: str  # "/clearmesh.order.v1.OrderService/PlaceOrder"
    http_bound: bool  # has a google.api.http binding: reachable from the edge
    roles: tuple[str, ...]  # user roles allowed (checked by the service itself)
    callers: tuple[str, ...]  # service identities allowed ("order", "settlement", ...)
    server_streaming: bool
    idempotent: bool  # safe to retry: a GET binding or a request_id in the request


@dataclass(frozen=True, slots=True)
class Service:
    name: str  # "order"
    full_name: str  # "clearmesh.order.v1.OrderService"
    methods: tuple[Method, ...]

    @property
    def grpc_prefix(self) -> str:
        return f"/{self.full_name}/"

    @property
    def http_bound(self) -> bool:
        return any(method.http_bound for method in self.methods)


def _reparsed(options: descriptor_pb2.MethodOptions) -> descriptor_pb2.MethodOptions:
    # Extensions parsed before their modules were imported stay unknown bytes; a round trip
    # through the wire form decodes them now that annotations_pb2 and access_pb2 are loaded.
    return descriptor_pb2.MethodOptions.FromString(options.SerializeToString())


def _method(full_name: str, proto: descriptor_pb2.MethodDescriptorProto,
            request_fields: dict[str, set[str]]) -> Method:
    options = _reparsed(proto.options)
    http_bound = options.HasExtension(annotations_pb2.http)  # type: ignore[arg-type]  # .pyi: extension as FieldDescriptor
    access: access_pb2.AccessRule = options.Extensions[access_pb2.access]  # type: ignore[index]  # .pyi: extension as FieldDescriptor
    http: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]  # type: ignore[index]  # .pyi: extension as FieldDescriptor
    is_get = http_bound and http.WhichOneof("pattern") == "get"
    has_request_id = IDEMPOTENCY_FIELD in request_fields.get(proto.input_type.lstrip("."), set())
    return Method(
        name=proto.name,
        grpc_path=f"/{full_name}/{proto.name}",
        http_bound=http_bound,
        roles=tuple(access.roles),
        callers=tuple(access.services),
        server_streaming=proto.server_streaming,
        idempotent=is_get or has_request_id,
    )


def _message_fields(file_set: descriptor_pb2.FileDescriptorSet) -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    for file_proto in file_set.file:
        for message in file_proto.message_type:
            fields[f"{file_proto.package}.{message.name}"] = {field.name for field in message.field}
    return fields


def load_services(descriptor_set: bytes) -> tuple[Service, ...]:
    """The clearmesh services in the descriptor set, sorted by name."""
    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    request_fields = _message_fields(file_set)
    services: list[Service] = []
    for file_proto in file_set.file:
        if not file_proto.package.startswith(PACKAGE_PREFIX):
            continue
        for service_proto in file_proto.service:
            full_name = f"{file_proto.package}.{service_proto.name}"
            services.append(Service(
                name=file_proto.package.split(".")[1],
                full_name=full_name,
                methods=tuple(_method(full_name, m, request_fields) for m in service_proto.method),
            ))
    return tuple(sorted(services, key=lambda service: service.name))
