"""The Matching service's tables.

The journal is the truth: one row per accepted command, per market, numbered 1, 2, ... with no
gap. Trades, order events and auctions are what those commands produced, written in the same
transaction so history pages and streams resume from an index instead of a replay. Snapshots
bound the replay at start-up. Prices are ticks, quantities lots, times integer nanoseconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
MARKET = String(32)
ORDER_ID = String(200)
ACCOUNT = String(140)

markets = Table(
    "matching_markets", metadata,
    Column("name", MARKET, primary_key=True),
    Column("definition", Text, nullable=False),  # Market.to_dict() as JSON, as created
    Column("create_time", BigInteger, nullable=False),
)

journal = Table(
    "matching_journal", metadata,
    Column("market", MARKET, primary_key=True),
    Column("sequence", SEQUENCE, primary_key=True),
    Column("command", Text, nullable=False),  # command_to_dict(...) as JSON
)

snapshots = Table(
    "matching_snapshots", metadata,
    Column("market", MARKET, primary_key=True),
    Column("sequence", SEQUENCE, primary_key=True),  # the last journal sequence it includes
    Column("snapshot", Text, nullable=False),  # MatchingEngine.snapshot() as JSON
)

trades = Table(
    "matching_trades", metadata,
    Column("market", MARKET, primary_key=True),
    Column("sequence", SEQUENCE, primary_key=True),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("buy_order", ORDER_ID, nullable=False),
    Column("sell_order", ORDER_ID, nullable=False),
    Column("buyer", ACCOUNT, nullable=False),
    Column("seller", ACCOUNT, nullable=False),
    Column("taker_side", Integer, nullable=True),
    Column("auction", BigInteger, nullable=True),
    Column("time", BigInteger, nullable=False),
)

order_events = Table(
    "matching_order_events", metadata,
    Column("market", MARKET, primary_key=True),
    Column("sequence", SEQUENCE, primary_key=True),
    Column("order_id", ORDER_ID, nullable=False),
    Column("account", ACCOUNT, nullable=False),
    Column("type", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("filled", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("trade", BigInteger, nullable=True),
    Column("last_price", BigInteger, nullable=True),
    Column("last_quantity", BigInteger, nullable=True),
    Column("reason", String(64), nullable=False),
    Column("time", BigInteger, nullable=False),
)
# An order's latest state (idempotent SubmitOrder of an order no longer in the book).
Index("matching_order_events_by_order", order_events.c.market, order_events.c.order_id,
      order_events.c.sequence)

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
