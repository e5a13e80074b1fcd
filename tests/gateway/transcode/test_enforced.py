"""The clearmesh OpenAPI document states what the services enforce: required fields, decimal
strings, resource names, ids per collection, request ids, required enums, no unknown fields, and
links from a create to its reads. Each fact is pinned to the service's own check, so the
document cannot drift from what the API refuses."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from gateway.descriptor import load_descriptor_set
from gateway.transcode import Transcoder, build_openapi
from services.matching.requests import MARKET_ID as MATCHING_MARKET_ID
from services.order.requests import _is_uuid
from services.runtime.steps import MAX_DECIMAL_TEXT
from services.runtime.validation import COLLECTION_IDS, REQUEST_ID, Violations
from services.wallet.domain.accounts import _USER_ID

Document = dict[str, Any]
DOCUMENT: Document = build_openapi(Transcoder.from_descriptor_set(load_descriptor_set()).rules)
OPERATIONS = {op["operationId"]: op for item in DOCUMENT["paths"].values() for op in item.values()}


def _schema(name: str) -> Document:
    return DOCUMENT["components"]["schemas"][name]


def _body(operation_id: str) -> Document:
    schema = OPERATIONS[operation_id]["requestBody"]["content"]["application/json"]["schema"]
    return _schema(schema["$ref"].rsplit("/", 1)[1]) if "$ref" in schema else schema


def _parameter(operation_id: str, name: str) -> Document:
    return next(p for p in OPERATIONS[operation_id]["parameters"] if p["name"] == name)


def _matches(schema: Document, value: str) -> bool:
    return re.search(schema["pattern"], value) is not None


def test_collection_ids_are_the_ones_the_services_check() -> None:
    assert COLLECTION_IDS["markets"] == MATCHING_MARKET_ID.pattern.strip("^$")
    assert COLLECTION_IDS["accounts"] == _USER_ID.pattern
    assert COLLECTION_IDS["withdrawals"] == REQUEST_ID.pattern
    sample = str(uuid.uuid4())
    assert re.fullmatch(COLLECTION_IDS["orders"], sample) and _is_uuid(sample)
    assert not re.fullmatch(COLLECTION_IDS["orders"], sample.upper()) and not _is_uuid(sample.upper())


def test_required_fields_of_a_body_star_request_are_required() -> None:
    assert _body("WalletService_Withdraw")["required"] == ["asset", "amount", "destination", "requestId"]


def test_a_required_query_parameter_is_required() -> None:
    assert _parameter("OrderService_PlaceOrder", "requestId")["required"] is True
    assert _parameter("KycService_SubmitDocument", "requestId")["required"] is False


@pytest.mark.parametrize("operation_id", ["WalletService_Deposit", "OrderService_CancelOrder", "KycService_ReviewApplicant"])
def test_request_bodies_allow_no_unknown_fields(operation_id: str) -> None:
    assert _body(operation_id)["additionalProperties"] is False


@pytest.mark.parametrize("text", ["12.5", "0.001", "100", "1.50"])
def test_a_positive_decimal_string_is_allowed_where_the_service_takes_it(text: str) -> None:
    violations = Violations()
    assert violations.decimal("amount", text) is not None and not violations.items
    assert _matches(_body("WalletService_Withdraw")["properties"]["amount"], text)


@pytest.mark.parametrize("text", ["0", "-1", "1e3", "1.", ".5", "01", "12,5", " 1", "NaN"])
def test_what_the_service_refuses_as_an_amount_the_document_refuses(text: str) -> None:
    violations = Violations()
    violations.decimal("amount", text)
    assert violations.items
    assert not _matches(_body("WalletService_Withdraw")["properties"]["amount"], text)


def test_a_decimal_longer_than_the_services_take_is_refused_by_the_document_too() -> None:
    amount = _body("WalletService_Withdraw")["properties"]["amount"]
    violations = Violations()
    violations.decimal("amount", "1" * MAX_DECIMAL_TEXT)
    violations.decimal("amount", "1" * (MAX_DECIMAL_TEXT + 1))
    assert [field for field, _ in violations.items] == ["amount"]
    assert amount["maxLength"] == MAX_DECIMAL_TEXT


def test_an_optional_decimal_may_be_empty_and_a_required_one_may_not() -> None:
    order = _schema("clearmesh.order.v1.Order")["properties"]
    assert _matches(order["price"], "") and _matches(order["price"], "101.25")
    assert not _matches(_body("WalletService_Deposit")["properties"]["amount"], "")


def test_a_reference_carries_the_full_resource_name() -> None:
    market = _schema("clearmesh.order.v1.Order")["properties"]["market"]
    assert _matches(market, "markets/BTC-USDC")
    assert not _matches(market, "BTC-USDC") and not _matches(market, "markets/btc-usdc")


def test_path_segments_state_the_id_rule_of_their_collection() -> None:
    order = _parameter("OrderService_GetOrder", "order")["schema"]
    assert _matches(order, str(uuid.uuid4())) and not _matches(order, "o-1")
    account = _parameter("WalletService_ListBalances", "account")["schema"]
    assert _matches(account, "alice") and not _matches(account, "-alice")


@pytest.mark.parametrize("value, allowed", [("0f3c-retry.1", True), ("", False), ("-x", False), ("a" * 129, False)])
def test_request_id_follows_the_one_rule(value: str, allowed: bool) -> None:
    assert _matches(_body("WalletService_Deposit")["properties"]["requestId"], value) is allowed
    assert bool(REQUEST_ID.fullmatch(value)) is allowed


def test_a_required_enum_refuses_its_unspecified_value() -> None:
    assert _body("KycService_ReviewApplicant")["properties"]["decision"]["not"] == {"const": "REVIEW_DECISION_UNSPECIFIED"}
    assert "not" not in _schema("clearmesh.order.v1.Order")["properties"]["timeInForce"]


def test_outputs_keep_their_plain_type_so_answers_always_conform() -> None:
    assert _schema("clearmesh.order.v1.Order")["properties"]["filledQuantity"] == {"type": "string", "readOnly": True}


def test_a_create_links_to_the_reads_of_what_it_created() -> None:
    links = OPERATIONS["OrderService_PlaceOrder"]["responses"]["200"]["links"]
    assert set(links) == {"OrderService_GetOrder", "OrderService_CancelOrder"}
    assert links["OrderService_GetOrder"]["parameters"] == {"order": "$response.body#/name#regex:^orders/([^/]+)$"}


def test_a_link_cuts_each_segment_of_a_nested_name() -> None:
    parameters = OPERATIONS["WalletService_Withdraw"]["responses"]["200"]["links"]["WalletService_GetWithdrawal"]["parameters"]
    name = "accounts/alice/withdrawals/w-1"
    cut = {key: re.search(expression.split("#regex:")[1], name).group(1) for key, expression in parameters.items()}  # type: ignore[union-attr]
    assert cut == {"account": "alice", "withdrawal": "w-1"}
