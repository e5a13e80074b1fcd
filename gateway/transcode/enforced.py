"""What the services enforce on a request field, as JSON Schema keywords for the OpenAPI document.

The contracts say which fields are REQUIRED (``google.api.field_behavior``) and which
resources exist (``google.api.resource`` patterns); the house conventions
(docs/conventions.md) say the rest: references carry full resource names, amounts are decimal
strings, ``request_id`` follows one rule, ids per collection follow
``services.runtime.validation.COLLECTION_IDS``. This module turns those facts into schema
keywords, so the document states what a call must satisfy and a generated client (or a
fuzzer) sends requests that reach the core logic instead of the validators.

Only fields a caller sets are constrained: REQUIRED or OPTIONAL ones. Output fields (no
behaviour, OUTPUT_ONLY, IDENTIFIER) keep their plain type, so answers always conform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import descriptor, descriptor_pb2

from services.runtime.assets import ASSET_CODE
from services.runtime.validation import ANY_ID, COLLECTION_IDS, REQUEST_ID
from services.runtime.steps import MAX_DECIMAL_TEXT

FieldDescriptor = descriptor.FieldDescriptor
Schema = dict[str, Any]

# Prices, quantities, amounts, sizes and fees are decimal strings (conventions.md § Numbers).
_DECIMAL_NAME = re.compile(r"(^|_)(amount|price|quantity|notional|size|fee)$")
_ASSET_NAME = re.compile(r"(^|_)asset$")
# What Violations.decimal accepts and then finds greater than zero; a signed field (a posting)
# may carry a sign but no other form.
POSITIVE_DECIMAL = r"(0\.[0-9]*[1-9][0-9]*|[1-9][0-9]*(\.[0-9]+)?)"
SIGNED_DECIMAL = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?"
# Digits that always fit the type (the edge refuses a value out of range as malformed).
INT64 = r"^-?[0-9]{1,18}$"
UINT64 = r"^[0-9]{1,19}$"
# AIP-158: a negative page size (or book depth) is refused.
_NON_NEGATIVE_INTS = frozenset({"page_size", "depth"})
_DATE_RANGES = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}  # google.type.Date, as KYC reads it
_INPUT = frozenset({field_behavior_pb2.REQUIRED, field_behavior_pb2.OPTIONAL})


def behaviors(field: FieldDescriptor) -> set[int]:
    # Round trip so the extension decodes even if options were parsed before it was registered.
    options = descriptor_pb2.FieldOptions.FromString(field.GetOptions().SerializeToString())
    return set(options.Extensions[field_behavior_pb2.field_behavior])  # type: ignore[index]  # .pyi: extension as FieldDescriptor


def is_required(field: FieldDescriptor) -> bool:
    return field_behavior_pb2.REQUIRED in behaviors(field)


def resource_patterns(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    """Message full name → its ``google.api.resource`` pattern (``orders/{order}``)."""
    patterns: dict[str, str] = {}

    def visit(message: descriptor_pb2.DescriptorProto, scope: str) -> None:
        full = f"{scope}{message.name}"
        options = descriptor_pb2.MessageOptions.FromString(message.options.SerializeToString())
        resource: resource_pb2.ResourceDescriptor = options.Extensions[resource_pb2.resource]  # type: ignore[index]  # .pyi: extension as FieldDescriptor
        if resource.pattern:
            patterns[full] = resource.pattern[0]
        for nested in message.nested_type:
            visit(nested, f"{full}.")

    for file_proto in files:
        for message in file_proto.message_type:
            visit(message, f"{file_proto.package}." if file_proto.package else "")
    return patterns


def name_regex(pattern: str) -> str:
    """``accounts/{account}/withdrawals/{withdrawal}`` (or ``accounts/*/withdrawals/*``) → the
    regular expression of the names it allows, each id by its collection's rule."""
    parts = pattern.split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        if part == "*" or (part.startswith("{") and part.endswith("}")):
            collection = parts[index - 1] if index else ""
            out.append(f"(?:{COLLECTION_IDS.get(collection, ANY_ID)})")
        else:
            out.append(re.escape(part))
    return "/".join(out)


def id_regex(collection: str) -> str:
    return COLLECTION_IDS.get(collection, ANY_ID)


class Enforced:
    """The facts of one descriptor set: which field names reference which resource."""

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self.patterns = resource_patterns(files)
        # A field named after a pattern's variable holds that resource's name up to the
        # variable: `account` → accounts/{account}, `trade` → markets/{market}/trades/{trade}.
        self.references: dict[str, str] = {}
        for pattern in self.patterns.values():
            parts = pattern.split("/")
            for index, part in enumerate(parts):
                if part.startswith("{"):
                    self.references.setdefault(part[1:-1], "/".join(parts[: index + 1]))

    def reference_pattern(self, field: FieldDescriptor) -> str | None:
        """The resource name pattern a string field holds, or None."""
        if field.type != FieldDescriptor.TYPE_STRING:
            return None
        if field.name == "name" and field.containing_type is not None:
            return self.patterns.get(field.containing_type.full_name)
        return self.references.get(field.name)

    def field_keywords(self, field: FieldDescriptor, enum_values: list[str] | None = None) -> Schema:
        """Schema keywords stating what the services check on this field (empty for outputs)."""
        field_behaviors = behaviors(field)
        if not field_behaviors & _INPUT or field.is_repeated:
            return {}
        required = field_behavior_pb2.REQUIRED in field_behaviors
        if field.type == FieldDescriptor.TYPE_STRING:
            regex = self._string_regex(field)
            if regex is not None:
                keywords: Schema = {"pattern": f"^{regex}$" if required else f"^({regex})?$"}
                if regex in (POSITIVE_DECIMAL, SIGNED_DECIMAL):
                    keywords["maxLength"] = MAX_DECIMAL_TEXT  # every service refuses a longer one
                return keywords
            return {"minLength": 1} if required else {}
        if field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
            return {"pattern": INT64}
        if field.type in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            return {"pattern": UINT64}
        if field.type == FieldDescriptor.TYPE_INT32 and field.name in _NON_NEGATIVE_INTS:
            return {"minimum": 0}
        if field.enum_type is not None and required:
            unspecified = field.enum_type.values[0].name
            if unspecified.endswith("_UNSPECIFIED"):
                return {"not": {"const": unspecified}}  # a required enum must be set
        return {}

    def _string_regex(self, field: FieldDescriptor) -> str | None:
        if field.name == "request_id":
            return REQUEST_ID.pattern
        if _ASSET_NAME.search(field.name):
            return ASSET_CODE.pattern
        if _DECIMAL_NAME.search(field.name):
            return SIGNED_DECIMAL if field.full_name in _SIGNED else POSITIVE_DECIMAL
        pattern = self.reference_pattern(field)
        if pattern is not None:
            return name_regex(pattern)
        if field.name.endswith("_id") and field.name[:-3] in self.references:
            return id_regex(self.references[field.name[:-3]].split("/")[-2])
        return None


# Decimal fields that may be negative: a posting debits (-) or credits (+) an account.
_SIGNED = frozenset({"clearmesh.wallet.v1.Posting.amount"})


def date_keywords(message_type: descriptor.Descriptor, field: FieldDescriptor) -> Schema:
    """``google.type.Date`` parts in range (KYC refuses impossible dates)."""
    if message_type.full_name == "google.type.Date" and field.name in _DATE_RANGES:
        low, high = _DATE_RANGES[field.name]
        return {"minimum": low, "maximum": high}
    return {}
