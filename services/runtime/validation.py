"""Collects field violations so a request is rejected whole, with every problem named, before
anything reaches storage."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from services.runtime.errors import InvalidArgument

_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")


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
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes these
            self.add(field, "must be a decimal string")
            return None
        if positive and value <= 0:
            self.add(field, "must be greater than zero")
            return None
        return value

    def raise_if_any(self, message: str = "the request is invalid", *, reason: str = "INVALID_ARGUMENT") -> None:
        if self.items:
            raise InvalidArgument(reason, message, violations=self.items)
