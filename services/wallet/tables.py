"""The Wallet's tables (SQLAlchemy Core). Amounts are integer minor units in BIGINT columns.

`wallet_entries` is the append-only journal; `wallet_balances` and `wallet_holds` are the
materialised state the journal and the holds imply (the consistency check proves it).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
ACCOUNT = String(140)  # `accounts/{id}` (id up to 128) or `system/...`
ASSET = String(16)
ID = String(300)  # client ids (256) under a derived prefix such as `withdrawals/`

assets = Table(
    "wallet_assets", metadata,
    Column("code", ASSET, primary_key=True),
    # Pinned at first start: changing it would silently rescale every stored amount.
    Column("precision", Integer, nullable=False),
)

accounts = Table(
    "wallet_accounts", metadata,
    Column("name", ACCOUNT, primary_key=True),
    Column("kind", String(16), nullable=False),  # USER or SYSTEM
)

balances = Table(
    "wallet_balances", metadata,
    Column("account", ACCOUNT, ForeignKey("wallet_accounts.name"), primary_key=True),
    Column("asset", ASSET, primary_key=True),
    Column("total", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
)

transfers = Table(
    "wallet_transfers", metadata,
    Column("transfer_id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

entries = Table(
    "wallet_entries", metadata,
    Column("sequence", SEQUENCE, primary_key=True, autoincrement=True),
    Column("transfer_id", ID, ForeignKey("wallet_transfers.transfer_id"), nullable=False),
    # Position of the posting in its transfer, so a replay compares postings in order.
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # EntryKind without its prefix: TRADE, FEE, ...
    Column("account", ACCOUNT, nullable=False),
    Column("asset", ASSET, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("hold_id", ID, nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Index("wallet_entries_account_sequence", "account", "sequence"),
    Index("wallet_entries_transfer", "transfer_id", "position"),
)

holds = Table(
    "wallet_holds", metadata,
    Column("hold_id", ID, primary_key=True),
    Column("account", ACCOUNT, nullable=False),
    Column("asset", ASSET, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("consumed_units", BigInteger, nullable=False),
    Column("released_units", BigInteger, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# Hold ids released before any hold was placed under them (domain/hold_groups.py): a PlaceHold
# of one is refused, so no money is ever held under a released id.
released_hold_ids = Table(
    "wallet_released_hold_ids", metadata,
    Column("hold_id", ID, primary_key=True),
)

withdrawals = Table(
    "wallet_withdrawals", metadata,
    Column("withdrawal_id", ID, primary_key=True),
    Column("account", ACCOUNT, nullable=False),
    Column("asset", ASSET, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("destination", String(256), nullable=False),
    Column("hold_id", ID, nullable=False),
    Column("state", String(16), nullable=False),
    Column("tx_reference", String(256), nullable=True),
    Column("failure_reason", String(1024), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    # The rolling 24 h sum of an account's withdrawals of one asset.
    Index("wallet_withdrawals_window", "account", "asset", "create_time"),
)
