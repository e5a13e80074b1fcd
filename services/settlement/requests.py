"""Validation of every Settlement request: each bad field named at once, before anything is
read or written. Parsing yields plain typed commands."""

from __future__ import annotations

from dataclasses import dataclass

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb
from services.runtime.paging import Page, read_page
from services.runtime.validation import Violations
from services.settlement.domain.states import State
from services.settlement.wire import COLLECTION, state_of


@dataclass(frozen=True, slots=True)
class ListQuery:
    state: State | None
    page: Page
    # What the page token is bound to: the filter and whose settlements are listed.
    token_query: str


@dataclass(frozen=True, slots=True)
class RetryCommand:
    settlement_id: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ReconcileCommand:
    market: str | None  # `markets/{market}`; None means every market
    request_id: str | None


def parse_name(name: str) -> str:
    """The settlement id of `settlements/{settlement}`."""
    violations = Violations()
    settlement_id = _name(violations, name)
    violations.raise_if_any()
    return _present(settlement_id)


def parse_list(request: pb.ListSettlementsRequest, party: str | None) -> ListQuery:
    violations = Violations()
    if request.state not in settlement_pb2.SettlementState.values():
        violations.add("state", "must be a SettlementState")
    violations.raise_if_any()
    state = state_of(request.state)
    token_query = f"{party or '*'}|{state or ''}"
    return ListQuery(state, read_page(request.page_size, request.page_token, token_query), token_query)


def parse_retry(request: pb.RetrySettlementRequest) -> RetryCommand:
    violations = Violations()
    settlement_id = _name(violations, request.name)
    request_id = violations.request_id(request.request_id, required=False)
    violations.raise_if_any()
    return RetryCommand(_present(settlement_id), request_id)


def parse_reconcile(request: pb.ReconcileRequest) -> ReconcileCommand:
    violations = Violations()
    market = None
    if request.market and violations.resource_name("market", request.market, "markets") is not None:
        market = request.market
    request_id = violations.request_id(request.request_id, required=False)
    violations.raise_if_any()
    return ReconcileCommand(market, request_id)


def _name(violations: Violations, name: str) -> str | None:
    if not violations.require("name", name):
        return None
    return violations.resource_name("name", name, COLLECTION)


def _present(value: str | None) -> str:
    if value is None:  # raise_if_any already refused the request
        raise ValueError("a validated field is missing")
    return value
