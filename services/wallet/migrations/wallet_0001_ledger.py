"""The Wallet's ledger: assets, accounts, balances, transfers and entries, holds, withdrawals.

Revision ID: wallet_0001
Revises:
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa

revision = "wallet_0001"
down_revision = None
branch_labels = ("wallet",)
depends_on = None

SYSTEM_ACCOUNTS = (
    "system/fees", "system/deposits-in-transit", "system/withdrawals-in-transit",
    "system/hot-wallet", "system/cold-wallet",
)
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACCOUNT = sa.String(140)
ASSET = sa.String(16)
ID = sa.String(300)


def upgrade() -> None:
    op.create_table(
        "wallet_assets",
        sa.Column("code", ASSET, primary_key=True),
        sa.Column("precision", sa.Integer, nullable=False),
    )
    accounts = op.create_table(
        "wallet_accounts",
        sa.Column("name", ACCOUNT, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.bulk_insert(accounts, [{"name": name, "kind": "SYSTEM"} for name in SYSTEM_ACCOUNTS])
    op.create_table(
        "wallet_balances",
        sa.Column("account", ACCOUNT, sa.ForeignKey("wallet_accounts.name"), primary_key=True),
        sa.Column("asset", ASSET, primary_key=True),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "wallet_transfers",
        sa.Column("transfer_id", ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "wallet_entries",
        sa.Column("sequence", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("transfer_id", ID, sa.ForeignKey("wallet_transfers.transfer_id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account", ACCOUNT, nullable=False),
        sa.Column("asset", ASSET, nullable=False),
        sa.Column("units", sa.BigInteger, nullable=False),
        sa.Column("hold_id", ID, nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("wallet_entries_account_sequence", "wallet_entries", ["account", "sequence"])
    op.create_index("wallet_entries_transfer", "wallet_entries", ["transfer_id", "position"])
    op.create_table(
        "wallet_holds",
        sa.Column("hold_id", ID, primary_key=True),
        sa.Column("account", ACCOUNT, nullable=False),
        sa.Column("asset", ASSET, nullable=False),
        sa.Column("units", sa.BigInteger, nullable=False),
        sa.Column("consumed_units", sa.BigInteger, nullable=False),
        sa.Column("released_units", sa.BigInteger, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "wallet_withdrawals",
        sa.Column("withdrawal_id", ID, primary_key=True),
        sa.Column("account", ACCOUNT, nullable=False),
        sa.Column("asset", ASSET, nullable=False),
        sa.Column("units", sa.BigInteger, nullable=False),
        sa.Column("destination", sa.String(256), nullable=False),
        sa.Column("hold_id", ID, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tx_reference", sa.String(256), nullable=True),
        sa.Column("failure_reason", sa.String(1024), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("wallet_withdrawals_window", "wallet_withdrawals", ["account", "asset", "create_time"])


def downgrade() -> None:
    for table in ("wallet_withdrawals", "wallet_holds", "wallet_entries", "wallet_transfers",
                  "wallet_balances", "wallet_accounts", "wallet_assets"):
        op.drop_table(table)
