"""Settlements (one per trade), the trade-stream cursors, and the anchored Merkle batches.

Revision ID: settlement_0001
Revises:
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "settlement_0001"
down_revision = None
branch_labels = ("settlement",)
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME = sa.String(300)
ACCOUNT = sa.String(140)
ASSET = sa.String(16)
DECIMAL_TEXT = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "settlement_order_fills",
        sa.Column("order_name", NAME, primary_key=True),
        sa.Column("notional_units", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settlement_batches",
        sa.Column("batch_id", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("slot", sa.BigInteger, nullable=False),
        sa.Column("leaf_count", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "settlement_settlements",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("settlement_id", NAME, nullable=False, unique=True),
        sa.Column("trade", NAME, nullable=False, unique=True),
        sa.Column("market", NAME, nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("price", DECIMAL_TEXT, nullable=False),
        sa.Column("quantity", DECIMAL_TEXT, nullable=False),
        sa.Column("buyer", ACCOUNT, nullable=False),
        sa.Column("seller", ACCOUNT, nullable=False),
        sa.Column("buy_order", NAME, nullable=False),
        sa.Column("sell_order", NAME, nullable=False),
        sa.Column("base_asset", ASSET, nullable=False),
        sa.Column("quote_asset", ASSET, nullable=False),
        sa.Column("notional_units", sa.BigInteger, nullable=False),
        sa.Column("quantity_units", sa.BigInteger, nullable=False),
        sa.Column("buyer_fee_units", sa.BigInteger, nullable=False),
        sa.Column("seller_fee_units", sa.BigInteger, nullable=False),
        sa.Column("execute_time", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failure_reason", sa.String(1024), nullable=True),
        sa.Column("next_attempt_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch_id", SEQUENCE, sa.ForeignKey("settlement_batches.batch_id"), nullable=True),
        sa.Column("batch_position", sa.Integer, nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("settlement_settlements_state", "settlement_settlements", ["state", "seq"])
    op.create_index("settlement_settlements_buyer", "settlement_settlements", ["buyer", "seq"])
    op.create_index("settlement_settlements_seller", "settlement_settlements", ["seller", "seq"])
    op.create_index("settlement_settlements_batch", "settlement_settlements", ["batch_id", "batch_position"])
    op.create_table(
        "settlement_cursors",
        sa.Column("market", NAME, primary_key=True),
        sa.Column("after_sequence", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settlement_cursors")
    op.drop_table("settlement_settlements")
    op.drop_table("settlement_batches")
    op.drop_table("settlement_order_fills")
