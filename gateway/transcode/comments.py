"""Leading comments of a FileDescriptorSet (needs ``--include_source_info``), by full name.

Keys: ``pkg.Message``, ``pkg.Message.field``, ``pkg.Enum``, ``pkg.Service``, ``pkg.Service.Method``.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import descriptor_pb2

# Field numbers inside FileDescriptorProto / DescriptorProto / ServiceDescriptorProto
# that SourceCodeInfo location paths are made of (descriptor.proto).
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_SERVICE_METHOD = 2


def _names_by_path(file_proto: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    prefix = f"{file_proto.package}." if file_proto.package else ""
    names: dict[tuple[int, ...], str] = {}

    def add_message(path: tuple[int, ...], message: descriptor_pb2.DescriptorProto, scope: str) -> None:
        full = f"{scope}{message.name}"
        names[path] = full
        for index, field in enumerate(message.field):
            names[(*path, _MESSAGE_FIELD, index)] = f"{full}.{field.name}"
        for index, nested in enumerate(message.nested_type):
            add_message((*path, _MESSAGE_NESTED, index), nested, f"{full}.")
        for index, enum in enumerate(message.enum_type):
            names[(*path, _MESSAGE_ENUM, index)] = f"{full}.{enum.name}"

    for index, message in enumerate(file_proto.message_type):
        add_message((_FILE_MESSAGE, index), message, prefix)
    for index, enum in enumerate(file_proto.enum_type):
        names[(_FILE_ENUM, index)] = f"{prefix}{enum.name}"
    for index, service in enumerate(file_proto.service):
        names[(_FILE_SERVICE, index)] = f"{prefix}{service.name}"
        for m_index, method in enumerate(service.method):
            names[(_FILE_SERVICE, index, _SERVICE_METHOD, m_index)] = f"{prefix}{service.name}.{method.name}"
    return names


def leading_comments(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    comments: dict[str, str] = {}
    for file_proto in files:
        names = _names_by_path(file_proto)
        for location in file_proto.source_code_info.location:
            name = names.get(tuple(location.path))
            text = location.leading_comments.strip()
            if name is not None and text:
                comments[name] = " ".join(line.strip() for line in text.splitlines())
    return comments
