"""Collects field violations so a request is rejected whole, with every problem named, before
anything reaches storage."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from services.runtime.errors import InvalidArgument
from services.runtime.steps import MAX_DECIMAL_TEXT

_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")
# The one rule for an AIP-155 request_id, in every service: ids may name resources
# (`accounts/{a}/withdrawals/{request_id}`), so they must nest in a resource name and fit the
# request log's key column.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")
REQUEST_ID_RULE = "must be 1 to 128 of A-Z a-z 0-9 . _ ~ -, starting with a letter or digit"
# The ids each collection accepts, as the services check them (the edge's OpenAPI document
# states them; tests/gateway/transcode/test_enforced.py pins each to the service's own check).
# A collection not listed takes any id without a slash.
UUID_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MARKET_ID = r"[A-Z][A-Z0-9]{1,15}-[A-Z][A-Z0-9]{1,15}"
ANY_ID = r"[^/]+"
COLLECTION_IDS: dict[str, str] = {
    "accounts": REQUEST_ID.pattern,  # an account id is a token's `sub`, held to the same rule
    "withdrawals": REQUEST_ID.pattern,  # a withdrawal is named after its request id
    "orders": UUID_ID,
    "markets": MARKET_ID,
}
# A decimal string as Violations.decimal accepts it (positive is checked on the value).
DECIMAL = _DECIMAL.pattern.strip("^$")


class Violations:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        self.items.append((field, description))

    def require(self, field: str, value: object) -> bool:
        """Adds a violation when `value` is empty; True when it is present."""
        if value in ("", 0, None) or value == []:
            self.add(field, "is required")
            return False
        return True

    def request_id(self, value: str, *, required: bool, field: str = "request_id") -> str | None:
        """The request's idempotency key, or None when absent (a violation if it is required)."""
        if not value:
            if required:
                self.add(field, "is required")
            return None
        if not REQUEST_ID.fullmatch(value):
            self.add(field, REQUEST_ID_RULE)
            return None
        return value

    def resource_name(self, field: str, value: str, collection: str) -> str | None:
        """The id of `collection/{id}`, or None (and a violation) when `value` is not one."""
        prefix = collection + "/"
        if not value.startswith(prefix) or "/" in value[len(prefix):] or len(value) == len(prefix):
            self.add(field, f"must look like {collection}/{{id}}")
            return None
        return value[len(prefix):]

    def decimal(self, field: str, text: str, *, positive: bool = True) -> Decimal | None:
        """A plain decimal string ("12.50"): no exponent, no sign games, never a float."""
        if not _DECIMAL.match(text):
            self.add(field, "must be a decimal string such as \"12.5\"")
            return None
        if len(text) > MAX_DECIMAL_TEXT:
            self.add(field, f"must be at most {MAX_DECIMAL_TEXT} characters long")
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes these
            self.add(field, "must be a decimal string")
            return None
        if positive and value <= 0:
            self.add(field, "must be greater than zero")
            return None
        return value

    def error(self, message: str = "the request is invalid", *, reason: str = "INVALID_ARGUMENT") -> InvalidArgument:
        """The InvalidArgument naming every violation so far. Raise it yourself where a parsed
        value must also be narrowed: `if amount is None: raise violations.error(...)` (a parser
        that returns None has always added its violation)."""
        return InvalidArgument(reason, message, violations=self.items)

    def raise_if_any(self, message: str = "the request is invalid", *, reason: str = "INVALID_ARGUMENT") -> None:
        if self.items:
            raise self.error(message, reason=reason)
