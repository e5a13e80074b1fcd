"""The Matching service's tables.

The journal is the truth: every accepted command, per market, numbered 1, 2, ... with no gap.
It is stored in blocks, one row per group commit, like the segments of an exchange's journal:
one row for hundreds of commands costs a fraction of hundreds of rows, and a block is read back
whole anyway. Trades and order events, what those commands produced, are blocks written in the
same transaction, so history pages and streams resume from an index instead of a replay; a
block's key is its last sequence, so "the blocks holding what comes after n" is one range scan.
Finished orders have a narrow index of their own, for idempotent resubmits of old orders.
Snapshots bound the replay at start-up. Prices are ticks, quantities lots, times integer
nanoseconds. Payloads are JSON (services/matching/blocks.py says how).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

metadata = MetaData()
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
MARKET = String(32)
ORDER_ID = String(200)

markets = Table(
    "matching_markets", metadata,
    Column("name", MARKET, primary_key=True),
    Column("definition", Text, nullable=False),  # Market.to_dict() as JSON, as created
    Column("create_time", BigInteger, nullable=False),
)


def _blocks(name: str, payload: str) -> Table:
    return Table(
        name, metadata,
        Column("market", MARKET, primary_key=True),
        Column("last_sequence", SEQUENCE, primary_key=True),
        Column("first_sequence", SEQUENCE, nullable=False),
        Column(payload, Text, nullable=False),
    )


command_blocks = _blocks("matching_command_blocks", "commands")
trade_blocks = _blocks("matching_trade_blocks", "trades")
event_blocks = _blocks("matching_event_blocks", "events")

finished_orders = Table(
    "matching_finished_orders", metadata,
    Column("market", MARKET, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("sequence", SEQUENCE, nullable=False),  # the order's last event
    sqlite_with_rowid=False,  # the key is the row: one B-tree, not two
)

snapshots = Table(
    "matching_snapshots", metadata,
    Column("market", MARKET, primary_key=True),
    Column("sequence", SEQUENCE, primary_key=True),  # the last journal sequence it includes
    Column("snapshot", Text, nullable=False),  # MatchingEngine.snapshot() as JSON
)

auctions = Table(
    "matching_auctions", metadata,
    Column("market", MARKET, primary_key=True),
    Column("sequence", SEQUENCE, primary_key=True),
    Column("time", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=True),
    Column("volume", BigInteger, nullable=False),
    Column("order_count", Integer, nullable=False),
    Column("trade_count", Integer, nullable=False),
)
