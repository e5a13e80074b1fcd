"""The Order service's persistence: orders and the per-market event cursors (SQLAlchemy Core,
async, SQLite and PostgreSQL). Callers run these inside `Transactions.read` / `.write`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import tables
from services.order.domain.enums import OrderState, OrderType, Side, TimeInForce
from services.order.domain.orders import Order, Release
from services.order.domain.validation import OrderSpec

T = tables.orders


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _order(row: Any) -> Order:
    spec = OrderSpec(Side(row.side), OrderType(row.type), TimeInForce(row.time_in_force), _decimal(row.price),
                     _decimal(row.quantity), _decimal(row.max_notional), row.post_only,
                     None if row.expire_time is None else _utc(row.expire_time), row.client_order_id)
    return Order(
        order_id=row.order_id, account=row.account, market_id=row.market, spec=spec, request_id=row.request_id,
        fingerprint=row.fingerprint, hold_asset=row.hold_asset, hold_units=row.hold_units,
        kyc_notional_units=row.kyc_notional_units, state=OrderState(row.state), filled_quantity=Decimal(row.filled_quantity),
        average_price=row.average_price, reject_reason=row.reject_reason, create_time=_utc(row.create_time),
        update_time=_utc(row.update_time), state_sequence=row.state_sequence, fill_sequence=row.fill_sequence,
        filled_value=row.filled_value, consumed_units=row.consumed_units, release=Release(row.release),
        release_units=row.release_units)


def _progress(order: Order) -> dict[str, Any]:
    """The columns that change after the order is stored."""
    return {
        "state": order.state.value, "filled_quantity": format(order.filled_quantity, "f"), "average_price": order.average_price,
        "reject_reason": order.reject_reason, "update_time": order.update_time,
        "state_sequence": order.state_sequence, "fill_sequence": order.fill_sequence,
        "filled_value": order.filled_value, "consumed_units": order.consumed_units,
        "release": order.release.value, "release_units": order.release_units,
    }


class OrderStore:
    async def insert(self, session: AsyncSession, order: Order) -> None:
        spec = order.spec
        await session.execute(T.insert().values(
            order_id=order.order_id, account=order.account, market=order.market_id, side=int(spec.side),
            type=int(spec.order_type), time_in_force=int(spec.time_in_force), price=_text(spec.price),
            quantity=_text(spec.quantity), max_notional=_text(spec.max_notional), post_only=spec.post_only,
            expire_time=spec.expire_time, client_order_id=spec.client_order_id, request_id=order.request_id,
            fingerprint=order.fingerprint, hold_asset=order.hold_asset, hold_units=order.hold_units,
            kyc_notional_units=order.kyc_notional_units, create_time=order.create_time, **_progress(order)))

    async def save(self, session: AsyncSession, order: Order) -> None:
        await session.execute(T.update().where(T.c.order_id == order.order_id).values(**_progress(order)))

    async def get(self, session: AsyncSession, order_id: str, *, lock: bool = False) -> Order | None:
        query = select(T).where(T.c.order_id == order_id)
        if lock:
            query = query.with_for_update()
        row = (await session.execute(query)).first()
        return None if row is None else _order(row)

    async def many(self, session: AsyncSession, order_ids: Iterable[str]) -> dict[str, Order]:
        """The stored ones among `order_ids`, locked, in id order (one lock order for every writer)."""
        ids = sorted(set(order_ids))
        if not ids:
            return {}
        rows = await session.execute(select(T).where(T.c.order_id.in_(ids)).order_by(T.c.order_id).with_for_update())
        return {row.order_id: _order(row) for row in rows}

    async def by_request_id(self, session: AsyncSession, request_id: str) -> Order | None:
        row = (await session.execute(select(T).where(T.c.request_id == request_id))).first()
        return None if row is None else _order(row)

    async def notional_since(self, session: AsyncSession, account: str, since: datetime) -> int:
        """What the account's orders placed since `since` count against its daily notional
        (a rejected order placed nothing)."""
        total = (await session.execute(select(func.coalesce(func.sum(T.c.kyc_notional_units), 0)).where(
            T.c.account == account, T.c.create_time >= since, T.c.state != OrderState.REJECTED.value))).scalar_one()
        return int(total)

    async def page(self, session: AsyncSession, *, account: str | None, market: str | None,
                   states: Sequence[OrderState], after_seq: int, limit: int) -> list[tuple[int, Order]]:
        query = select(T).where(T.c.seq > after_seq)
        if account is not None:
            query = query.where(T.c.account == account)
        if market is not None:
            query = query.where(T.c.market == market)
        if states:
            query = query.where(T.c.state.in_([state.value for state in states]))
        rows = await session.execute(query.order_by(T.c.seq).limit(limit))
        return [(row.seq, _order(row)) for row in rows]

    async def in_state(self, session: AsyncSession, state: OrderState) -> list[Order]:
        return [_order(row) for row in await session.execute(select(T).where(T.c.state == state.value))]

    async def releases_due(self, session: AsyncSession) -> list[Order]:
        return [_order(row) for row in await session.execute(select(T).where(T.c.release == Release.DUE.value))]

    # ------------------------------------------------------------- cursors

    async def cursor(self, session: AsyncSession, market: str) -> int:
        value = (await session.execute(
            select(tables.cursors.c.sequence).where(tables.cursors.c.market == market))).scalar_one_or_none()
        return int(value or 0)

    async def set_cursor(self, session: AsyncSession, market: str, sequence: int) -> None:
        updated = await session.execute(tables.cursors.update().where(tables.cursors.c.market == market)
                                        .values(sequence=sequence))
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            await session.execute(tables.cursors.insert().values(market=market, sequence=sequence))
