"""The Settlement service's tables (SQLAlchemy Core). Amounts are integer minor units.

`settlement_cursors` is each market's position in Matching's trade stream, written in the
same transaction as the settlements of the trades up to it (a redelivered trade is a no-op:
`trade` is unique). `settlement_batches` are the anchored Merkle batches; a settlement's
`batch_position` is its leaf's index in its batch.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
NAME = String(300)
ACCOUNT = String(140)
ASSET = String(16)
DECIMAL_TEXT = String(64)

batches = Table(
    "settlement_batches", metadata,
    Column("batch_id", SEQUENCE, primary_key=True, autoincrement=True),
    Column("root", String(64), nullable=False),  # hex SHA-256
    Column("signature", String(128), nullable=False),
    Column("slot", BigInteger, nullable=False),
    Column("leaf_count", Integer, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

settlements = Table(
    "settlement_settlements", metadata,
    # Insertion order: the list order and its page cursor.
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("settlement_id", NAME, nullable=False, unique=True),
    Column("trade", NAME, nullable=False, unique=True),
    Column("market", NAME, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("price", DECIMAL_TEXT, nullable=False),
    Column("quantity", DECIMAL_TEXT, nullable=False),
    Column("buyer", ACCOUNT, nullable=False),
    Column("seller", ACCOUNT, nullable=False),
    Column("buy_order", NAME, nullable=False),
    Column("sell_order", NAME, nullable=False),
    Column("base_asset", ASSET, nullable=False),
    Column("quote_asset", ASSET, nullable=False),
    Column("notional_units", BigInteger, nullable=False),
    Column("quantity_units", BigInteger, nullable=False),
    Column("buyer_fee_units", BigInteger, nullable=False),
    Column("seller_fee_units", BigInteger, nullable=False),
    Column("execute_time", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failure_reason", String(1024), nullable=True),
    Column("next_attempt_time", DateTime(timezone=True), nullable=True),
    Column("batch_id", SEQUENCE, ForeignKey("settlement_batches.batch_id"), nullable=True),
    Column("batch_position", Integer, nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
Index("settlement_settlements_state", settlements.c.state, settlements.c.seq)
Index("settlement_settlements_buyer", settlements.c.buyer, settlements.c.seq)
Index("settlement_settlements_seller", settlements.c.seller, settlements.c.seq)
Index("settlement_settlements_batch", settlements.c.batch_id, settlements.c.batch_position)

# Each order's notional charged so far: a trade's fee is what it adds to its order's fee
# (domain/charges.py), written in the transaction that charges the trade.
order_fills = Table(
    "settlement_order_fills", metadata,
    Column("order_name", NAME, primary_key=True),
    Column("notional_units", BigInteger, nullable=False),
)

cursors = Table(
    "settlement_cursors", metadata,
    Column("market", NAME, primary_key=True),
    Column("after_sequence", BigInteger, nullable=False),
)
