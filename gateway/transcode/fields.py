"""Per-message field tables, built once at load so requests never walk descriptors.

A table maps both the proto name and the lowerCamel JSON name of every field to what
the query/path binder needs: the proto name to write into a JSON dict, whether the
field repeats, how a text value converts, and the child table for nested paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from google.protobuf import descriptor

FieldDescriptor = descriptor.FieldDescriptor

# Well-known types whose JSON form is a plain string (PB json.md), hence usable in a query.
STRING_FORM_TYPES = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Int32Value",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.FloatValue",
        "google.protobuf.DoubleValue",
    }
)
# Well-known types with a JSON form no single query value can express.
OPAQUE_TYPES = frozenset(
    {
        "google.protobuf.Any",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.Empty",
    }
)
BOOL_WRAPPER = "google.protobuf.BoolValue"


class TextKind(Enum):
    """How a text value from a path or query string becomes a JSON value."""

    AS_STRING = "string"  # json_format accepts strings for numbers, enums, bytes, WKT strings
    AS_BOOL = "bool"  # json_format wants a real bool
    NESTED = "nested"  # a message: only its subfields can be set (a.b=x)
    FORBIDDEN = "forbidden"  # maps, repeated messages, Any/Struct/Value


@dataclass(frozen=True, slots=True)
class FieldEntry:
    proto_name: str
    json_name: str
    repeated: bool
    kind: TextKind
    message_name: str | None  # full name when the field is a message
    is_plain_string: bool = False  # singular `string`: path values can be assigned directly

    @property
    def why_forbidden(self) -> str:
        return "maps, repeated messages and Any/Struct/Value cannot be set from a query or path"


class FieldTables:
    """Lazily filled, then read-only cache of field tables keyed by message full name."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, FieldEntry]] = {}

    def table(self, message_type: descriptor.Descriptor) -> dict[str, FieldEntry]:
        """The table of ``message_type``, building it (and its children's) on first use."""
        existing = self._tables.get(message_type.full_name)
        if existing is not None:
            return existing
        table: dict[str, FieldEntry] = {}
        self._tables[message_type.full_name] = table  # registered first: recursive messages terminate
        for field in message_type.fields:
            entry = field_entry(field)
            table[field.name] = entry
            table[field.json_name] = entry
            if entry.kind is TextKind.NESTED and field.message_type is not None:
                self.table(field.message_type)
        return table

    def child(self, entry: FieldEntry) -> dict[str, FieldEntry]:
        if entry.message_name is None:
            raise TypeError(f"{entry.proto_name} is not a message field")
        return self._tables[entry.message_name]


def field_entry(field: FieldDescriptor) -> FieldEntry:
    message_type = field.message_type
    message_name = message_type.full_name if message_type is not None else None
    repeated = field.is_repeated
    if message_type is None:
        kind = TextKind.AS_BOOL if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL else TextKind.AS_STRING
    elif message_type.GetOptions().map_entry or message_name in OPAQUE_TYPES:
        kind = TextKind.FORBIDDEN
    elif message_name == BOOL_WRAPPER:
        kind = TextKind.AS_BOOL
    elif message_name in STRING_FORM_TYPES:
        kind = TextKind.AS_STRING
    elif repeated:
        kind = TextKind.FORBIDDEN
    else:
        kind = TextKind.NESTED
    plain_string = field.type == FieldDescriptor.TYPE_STRING and not repeated
    return FieldEntry(field.name, field.json_name, repeated, kind, message_name, plain_string)
