"""Journal blocks stay readable as records gain fields."""

from __future__ import annotations

import orjson

from services.matching.blocks import decode_trades, encode_records
from services.matching.domain import Side, Trade


def test_a_trade_block_written_before_trades_carried_a_trace_reads_with_none() -> None:
    old_columns = {"sequence": [1], "price": [100], "quantity": [2], "buy_order": ["b"], "sell_order": ["s"],
                   "buyer": ["x"], "seller": ["y"], "taker_side": [1], "auction": [None], "time": [7]}

    assert decode_trades(orjson.dumps(old_columns)) == [Trade(1, 100, 2, "b", "s", "x", "y", Side.BUY, None, 7, "")]


def test_a_trades_trace_is_journaled_with_it() -> None:
    trade = Trade(1, 100, 2, "b", "s", "x", "y", Side.BUY, None, 7, f"00-{'1' * 32}-{'2' * 16}-01")

    assert decode_trades(encode_records([trade])) == [trade]
