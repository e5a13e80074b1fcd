"""Who sees what of a trade on the tape: prices for all, parties and the taker's trace for their own."""

from __future__ import annotations

from clearmesh.matching.v1 import matching_pb2
from clearmesh.type.v1 import trading_pb2

from services.matching.visibility import trade_as_seen_by
from services.runtime.auth import Principal

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _trade() -> matching_pb2.Trade:
    return matching_pb2.Trade(
        price="100", quantity="1", buyer="accounts/alice", seller="accounts/bob", buy_order="orders/a",
        sell_order="orders/b", taker_side=trading_pb2.SIDE_BUY, taker_trace_parent=TRACE)


def test_a_stranger_sees_the_price_but_no_party_and_no_trace() -> None:
    seen = trade_as_seen_by(Principal(account="carol", roles=frozenset({"trader"})), _trade())
    assert (seen.price, seen.quantity) == ("100", "1")
    assert (seen.buyer, seen.seller, seen.buy_order, seen.sell_order, seen.taker_trace_parent) == ("", "", "", "", "")


def test_the_taker_sees_their_own_side_and_their_trace() -> None:
    seen = trade_as_seen_by(Principal(account="alice", roles=frozenset({"trader"})), _trade())
    assert (seen.buyer, seen.buy_order, seen.taker_trace_parent) == ("accounts/alice", "orders/a", TRACE)
    assert (seen.seller, seen.sell_order) == ("", "")


def test_the_maker_sees_their_own_side_but_not_the_takers_trace() -> None:
    seen = trade_as_seen_by(Principal(account="bob", roles=frozenset({"trader"})), _trade())
    assert (seen.seller, seen.sell_order) == ("accounts/bob", "orders/b")
    assert seen.taker_trace_parent == ""


def test_settlement_sees_everything() -> None:
    seen = trade_as_seen_by(Principal(service="settlement"), _trade())
    assert seen == _trade()
