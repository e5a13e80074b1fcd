"""The journal, trades and order events move from a row each to blocks, one per group commit;
finished orders get a narrow index of their own.

A row per command, trade and event cost more to write than matching them (services/matching/
tables.py). Existing history is regrouped into blocks of up to 1,000 records, in the layout of
services/matching/blocks.py, spelled out here so this migration keeps meaning what it meant
when that module changes. Downgrading expands the blocks back into rows.

Revision ID: matching_0002
Revises: matching_0001
Create Date: 2026-11-21
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "matching_0002"
down_revision = "matching_0001"
branch_labels = None
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MARKET = sa.String(32)
ORDER_ID = sa.String(200)
ACCOUNT = sa.String(140)
BLOCK = 1000

TRADE_FIELDS = ("sequence", "price", "quantity", "buy_order", "sell_order", "buyer", "seller", "taker_side",
                "auction", "time")
EVENT_FIELDS = ("sequence", "order_id", "account", "type", "state", "filled", "remaining", "trade", "last_price",
                "last_quantity", "reason", "time")


def _create_block_table(name: str, payload: str) -> None:
    op.create_table(
        name,
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("last_sequence", SEQUENCE, primary_key=True),
        sa.Column("first_sequence", SEQUENCE, nullable=False),
        sa.Column(payload, sa.Text, nullable=False),
    )


def _chunks(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Runs of up to BLOCK rows of one market."""
    start = 0
    for index in range(1, len(rows) + 1):
        if index == len(rows) or index - start == BLOCK or rows[index].market != rows[start].market:
            yield rows[start:index]
            start = index


def _columns(rows: Sequence[Any], fields: Sequence[str]) -> str:
    return orjson.dumps({field: [getattr(row, field) for row in rows] for field in fields}).decode()


def upgrade() -> None:
    bind = op.get_bind()
    _create_block_table("matching_command_blocks", "commands")
    _create_block_table("matching_trade_blocks", "trades")
    _create_block_table("matching_event_blocks", "events")
    op.create_table(
        "matching_finished_orders",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("order_id", ORDER_ID, primary_key=True),
        sa.Column("sequence", SEQUENCE, nullable=False),
        sqlite_with_rowid=False,
    )
    blocks = []
    journal = bind.execute(sa.text(
        "SELECT market, sequence, command FROM matching_journal ORDER BY market, sequence")).all()
    for run in _chunks(journal):
        rows = [orjson.loads(row.command) for row in run]  # [kind code, field values...]
        blocks.append({"market": run[0].market, "first": run[0].sequence, "last": run[-1].sequence,
                       "payload": orjson.dumps({"kinds": "".join(row[0] for row in rows),
                                                "values": [row[1:] for row in rows]}).decode()})
    _insert_blocks(bind, "matching_command_blocks", "commands", blocks)
    for table, target, payload, fields in (
            ("matching_trades", "matching_trade_blocks", "trades", TRADE_FIELDS),
            ("matching_order_events", "matching_event_blocks", "events", EVENT_FIELDS)):
        history = bind.execute(sa.text(
            f"SELECT market, {', '.join(fields)} FROM {table} ORDER BY market, sequence")).all()
        _insert_blocks(bind, target, payload, [
            {"market": run[0].market, "first": run[0].sequence, "last": run[-1].sequence,
             "payload": _columns(run, fields)} for run in _chunks(history)])
    # An order has finished when its last event leaves nothing in the book.
    bind.execute(sa.text(
        "INSERT INTO matching_finished_orders (market, order_id, sequence) "
        "SELECT e.market, e.order_id, e.sequence FROM matching_order_events e WHERE e.remaining = 0 "
        "AND e.sequence = (SELECT max(l.sequence) FROM matching_order_events l "
        "WHERE l.market = e.market AND l.order_id = e.order_id)"))
    op.drop_index("matching_order_events_by_order", table_name="matching_order_events")
    for table in ("matching_order_events", "matching_trades", "matching_journal"):
        op.drop_table(table)


def _insert_blocks(bind: Any, table: str, payload: str, blocks: list[dict[str, Any]]) -> None:
    if blocks:
        bind.execute(sa.text(f"INSERT INTO {table} (market, last_sequence, first_sequence, {payload}) "
                             "VALUES (:market, :last, :first, :payload)"), blocks)


def downgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "matching_journal",
        sa.Column("market", MARKET, primary_key=True),
        sa.Column("sequence", SEQUENCE, primary_key=True),
        sa.Column("command", sa.Text, nullable=False),
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
    op.create_index("matching_order_events_by_order", "matching_order_events", ["market", "order_id", "sequence"])
    commands: list[dict[str, Any]] = []
    for block in bind.execute(sa.text("SELECT market, first_sequence, commands FROM matching_command_blocks")):
        data = orjson.loads(block.commands)
        commands.extend({"market": block.market, "sequence": sequence, "command": orjson.dumps([kind, *values]).decode()}
                        for sequence, (kind, values) in enumerate(zip(data["kinds"], data["values"]),
                                                                  block.first_sequence))
    if commands:
        bind.execute(sa.text("INSERT INTO matching_journal (market, sequence, command) "
                             "VALUES (:market, :sequence, :command)"), commands)
    for source, payload, table, fields in (
            ("matching_trade_blocks", "trades", "matching_trades", TRADE_FIELDS),
            ("matching_event_blocks", "events", "matching_order_events", EVENT_FIELDS)):
        rows: list[dict[str, Any]] = []
        for block in bind.execute(sa.text(f"SELECT market, {payload} FROM {source}")):
            data = orjson.loads(getattr(block, payload))
            rows.extend({"market": block.market, **dict(zip(fields, values))}
                        for values in zip(*(data[field] for field in fields)))
        if rows:
            bind.execute(sa.text(f"INSERT INTO {table} (market, {', '.join(fields)}) "
                                 f"VALUES (:market, {', '.join(':' + field for field in fields)})"), rows)
    for table in ("matching_finished_orders", "matching_event_blocks", "matching_trade_blocks",
                  "matching_command_blocks"):
        op.drop_table(table)
