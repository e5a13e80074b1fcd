"""Who sees whom in the trade tape.

Trades are market data every trader may read (`ListTrades`, `StreamTrades`), but the parties of a
trade are not: an account id is a person's identity, and order names tie a trader's activity
together. A trader sees the price, quantity, time and aggressor of every trade and the parties
only of their own side; operators and services (Settlement posts each trade to both accounts)
see everything. The taker's trace context (`taker_trace_parent`, for Settlement's span link)
is the taker's alone: ids of another trader's request are no one else's business.
"""

from __future__ import annotations

from clearmesh.matching.v1 import matching_pb2
from clearmesh.type.v1 import trading_pb2
from services.runtime.auth import Principal


def trade_as_seen_by(principal: Principal, trade: matching_pb2.Trade) -> matching_pb2.Trade:
    """`trade` with the parties the caller may not know left empty."""
    if principal.service is not None or principal.is_operator:
        return trade
    taker = trade.buyer if trade.taker_side == trading_pb2.SIDE_BUY else trade.seller
    if trade.taker_side == trading_pb2.SIDE_UNSPECIFIED or not principal.owns(taker):
        trade.ClearField("taker_trace_parent")
    if not principal.owns(trade.buyer):
        trade.ClearField("buyer")
        trade.ClearField("buy_order")
    if not principal.owns(trade.seller):
        trade.ClearField("seller")
        trade.ClearField("sell_order")
    return trade
