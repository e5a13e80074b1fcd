"""Field violations are collected and raised together."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.validation import Violations


def test_every_violation_is_reported_at_once() -> None:
    check = Violations()
    check.require("order.market", "")
    check.decimal("order.quantity", "-1")
    with pytest.raises(InvalidArgument) as raised:
        check.raise_if_any()
    assert [field for field, _ in raised.value.violations] == ["order.market", "order.quantity"]


@pytest.mark.parametrize("text", ["1e5", "0.1.2", "", "NaN", "Infinity", " 1", "01.5", "+1"])
def test_only_plain_decimal_strings_are_amounts(text: str) -> None:
    check = Violations()
    assert check.decimal("amount", text) is None
    assert check.items


def test_a_plain_decimal_string_is_parsed_exactly() -> None:
    assert Violations().decimal("amount", "0.1250") == Decimal("0.1250")


def test_a_resource_name_yields_its_id() -> None:
    check = Violations()
    assert check.resource_name("name", "orders/abc", "orders") == "abc"
    assert check.resource_name("name", "orders/", "orders") is None
    assert check.resource_name("name", "markets/abc", "orders") is None
    assert len(check.items) == 2


def test_a_service_may_name_its_own_reason_for_the_violations() -> None:
    check = Violations()
    check.add("applicant.country", "is not a known country")
    with pytest.raises(InvalidArgument) as raised:
        check.raise_if_any("the applicant has invalid fields", reason="INVALID_APPLICANT")
    assert raised.value.reason == "INVALID_APPLICANT"
