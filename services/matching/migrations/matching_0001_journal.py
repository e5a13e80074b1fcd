"""The Matching journal: markets, commands, snapshots, and what the commands produced.

Revision ID: matching_0001
Revises:
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa

revision = "matching_0001"
down_revision = None
branch_labels = ("matching",)
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MARKET = sa.String(32)
ORDER_ID = sa.String(200)
ACCOUNT = sa.String(140)


def upgrade() -> None:
    op.create_table(
        "matching_markets",
        sa.Column("name", MARKET, primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("create_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "matching_journal",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("sequence", SEQUENCE, primary_key=True),
        sa.Column("command", sa.Text, nullable=False),
    )
    op.create_table(
        "matching_snapshots",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("sequence", SEQUENCE, primary_key=True),
        sa.Column("snapshot", sa.Text, nullable=False),
    )
    op.create_table(
        "matching_trades",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("sequence", SEQUENCE, primary_key=True),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("buy_order", ORDER_ID, nullable=False),
        sa.Column("sell_order", ORDER_ID, nullable=False),
        sa.Column("buyer", ACCOUNT, nullable=False),
        sa.Column("seller", ACCOUNT, nullable=False),
        sa.Column("taker_side", sa.Integer, nullable=True),
        sa.Column("auction", sa.BigInteger, nullable=True),
        sa.Column("time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "matching_order_events",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("sequence", SEQUENCE, primary_key=True),
        sa.Column("order_id", ORDER_ID, nullable=False),
        sa.Column("account", ACCOUNT, nullable=False),
        sa.Column("type", sa.Integer, nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("filled", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("trade", sa.BigInteger, nullable=True),
        sa.Column("last_price", sa.BigInteger, nullable=True),
        sa.Column("last_quantity", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
    )
    op.create_index("matching_order_events_by_order", "matching_order_events",
                    ["market", "order_id", "sequence"])
    op.create_table(
        "matching_auctions",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("sequence", SEQUENCE, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=True),
        sa.Column("volume", sa.BigInteger, nullable=False),
        sa.Column("order_count", sa.Integer, nullable=False),
        sa.Column("trade_count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("matching_auctions", "matching_order_events", "matching_trades",
                  "matching_snapshots", "matching_journal", "matching_markets"):
        op.drop_table(table)
