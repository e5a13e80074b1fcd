"""The Settlement service's SQL store: persists what the domain decides; never decides itself.

Every method takes the session of a transaction the caller opened (`runtime.transactions`),
so the intake of trades and its cursor, or a batch of postings and its state changes,
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.bulk import insert_rows, update_rows
from services.runtime.database import stored_utc
from services.settlement import tables
from services.settlement.domain.charges import Charges, TradeTerms
from services.settlement.domain.settlement import AnchorRef, Settlement
from services.settlement.domain.states import Progress, State

_S = tables.settlements
_F = tables.order_fills


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else stored_utc(moment)


@dataclass(frozen=True, slots=True)
class Listed:
    """A settlement with its place in the list order (the page cursor)."""

    seq: int
    settlement: Settlement


@dataclass(frozen=True, slots=True)
class Batch:
    batch_id: int
    root_hex: str
    signature: str
    slot: int
    leaf_count: int


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    failed: int
    oldest_pending_execute_time: str | None  # RFC 3339, as the settlement stores it


class SettlementStore:
    # ---------------------------------------------------------------- intake

    async def cursor(self, session: AsyncSession, market: str) -> int:
        found = await session.scalar(select(tables.cursors.c.after_sequence).where(tables.cursors.c.market == market))
        return int(found or 0)

    async def unseen(self, session: AsyncSession, arrived: Sequence[Settlement]) -> list[Settlement]:
        """The settlements of trades not recorded before (a redelivered trade is one that was)."""
        existing = set((await session.scalars(select(_S.c.trade).where(
            _S.c.trade.in_([s.trade for s in arrived])))).all()) if arrived else set()
        return [s for s in arrived if s.trade not in existing]

    async def intake(self, session: AsyncSession, market: str, fresh: Sequence[Settlement], cursor: int) -> None:
        """Insert new settlements and move the market's cursor to `cursor` (never back)."""
        if fresh:
            await insert_rows(session, _S, [_row(s) for s in fresh])
        stored = await session.scalar(select(tables.cursors.c.after_sequence)
                                      .where(tables.cursors.c.market == market).with_for_update())
        if stored is None:
            await session.execute(tables.cursors.insert().values(market=market, after_sequence=cursor))
        elif cursor > stored:
            await session.execute(update(tables.cursors).where(tables.cursors.c.market == market)
                                  .values(after_sequence=cursor))

    async def order_fills(self, session: AsyncSession, orders: Iterable[str]) -> dict[str, int]:
        """The notional charged so far to each of these orders (absent: none), locked."""
        wanted = sorted(set(orders))
        if not wanted:
            return {}
        rows = await session.execute(select(_F).where(_F.c.order_name.in_(wanted)).with_for_update())
        return {row.order_name: row.notional_units for row in rows}

    async def save_order_fills(self, session: AsyncSession, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        """Write the changed figures: one INSERT of the new orders and one UPDATE of the known
        ones (`bulk`: two statements per intake, not two per trade)."""
        changed = sorted(after.items())
        await insert_rows(session, _F, [{"order_name": order, "notional_units": units}
                                        for order, units in changed if order not in before])
        await update_rows(session, _F, ("order_name",), [{"order_name": order, "notional_units": units}
                                                         for order, units in changed if order in before])

    async def rewind(self, session: AsyncSession, market: str, cursor: int) -> None:
        """Operator repair: follow the market again from `cursor` (what was settled stays settled)."""
        await session.execute(update(tables.cursors).where(tables.cursors.c.market == market)
                              .values(after_sequence=cursor))

    # --------------------------------------------------------------- posting

    async def due_ids(self, session: AsyncSession, now: datetime, limit: int) -> list[str]:
        """The ids of PENDING settlements whose backoff is over, oldest first: what the poster
        counts while a batch fills (it reads again every few ms), without building them."""
        return list(await session.scalars(
            select(_S.c.settlement_id).where(_S.c.state == State.PENDING,
                                             or_(_S.c.next_attempt_time.is_(None), _S.c.next_attempt_time <= now))
            .order_by(_S.c.seq).limit(limit)))

    async def pending(self, session: AsyncSession, settlement_ids: Sequence[str]) -> list[Settlement]:
        """Those of these settlements that are PENDING, oldest first."""
        rows = await session.execute(select(_S).where(_S.c.settlement_id.in_(settlement_ids),
                                                      _S.c.state == State.PENDING).order_by(_S.c.seq))
        return [_settlement(row) for row in rows]

    async def next_retry_time(self, session: AsyncSession) -> datetime | None:
        return _utc(await session.scalar(select(func.min(_S.c.next_attempt_time)).where(_S.c.state == State.PENDING)))

    async def backlog(self, session: AsyncSession) -> Backlog:
        """What is not settled yet, for the metrics: PENDING and FAILED counts, and the
        execution time of the oldest PENDING trade."""
        rows = await session.execute(select(_S.c.state, func.count()).where(_S.c.state.in_((State.PENDING, State.FAILED)))
                                     .group_by(_S.c.state))
        counts: dict[str, int] = {state: count for state, count in rows}
        oldest = await session.scalar(
            select(_S.c.execute_time).where(_S.c.state == State.PENDING).order_by(_S.c.seq).limit(1))
        return Backlog(counts.get(State.PENDING, 0), counts.get(State.FAILED, 0), oldest)

    async def locked(self, session: AsyncSession, settlement_ids: Sequence[str]) -> list[Settlement]:
        """The settlements, locked for a state change, in id order (one lock order everywhere)."""
        rows = await session.execute(select(_S).where(_S.c.settlement_id.in_(settlement_ids))
                                     .order_by(_S.c.settlement_id).with_for_update())
        return [_settlement(row) for row in rows]

    async def save_progress(self, session: AsyncSession, changes: Mapping[str, Progress], now: datetime) -> None:
        if not changes:
            return
        await session.execute(_SAVE_PROGRESS, [
            {"key_id": settlement_id, "new_state": progress.state, "new_attempts": progress.attempts,
             "new_reason": progress.failure_reason, "new_next": progress.next_attempt_time, "new_update": now}
            for settlement_id, progress in sorted(changes.items())])

    async def save_charges(self, session: AsyncSession, settlement_id: str, charges: Charges) -> None:
        await session.execute(update(_S).where(_S.c.settlement_id == settlement_id).values(
            notional_units=charges.notional_units, quantity_units=charges.quantity_units,
            buyer_fee_units=charges.buyer_fee_units, seller_fee_units=charges.seller_fee_units))

    async def mark_posted(self, session: AsyncSession, settlement_ids: Sequence[str], now: datetime) -> None:
        """PENDING → POSTED for the batch the Wallet accepted, in one statement."""
        await session.execute(update(_S).where(_S.c.settlement_id.in_(settlement_ids), _S.c.state == State.PENDING)
                              .values(state=State.POSTED, failure_reason=None, next_attempt_time=None,
                                      update_time=now))

    # ------------------------------------------------------------- anchoring

    async def posted_backlog(self, session: AsyncSession, limit: int) -> tuple[int, datetime | None]:
        """How many settlements the next anchor batch would hold (at most `limit`) and when its
        oldest became POSTED: one row, so a poll that finds the batch not ready yet is cheap."""
        head = (select(_S.c.update_time).where(_S.c.state == State.POSTED)
                .order_by(_S.c.update_time, _S.c.seq).limit(limit).subquery())
        count, oldest = (await session.execute(select(func.count(), func.min(head.c.update_time)))).one()
        return int(count), _utc(oldest)

    async def posted(self, session: AsyncSession, limit: int) -> list[Settlement]:
        """POSTED settlements in posting order (the order of their leaves)."""
        rows = await session.execute(select(_S).where(_S.c.state == State.POSTED)
                                     .order_by(_S.c.update_time, _S.c.seq).limit(limit))
        return [_settlement(row) for row in rows]

    async def record_batch(self, session: AsyncSession, root_hex: str, signature: str, slot: int,
                           leaves: Sequence[str], now: datetime) -> int:
        """Store an anchored batch and mark its settlements (leaf order = `leaves`) ANCHORED."""
        batch_id = (await session.execute(tables.batches.insert().values(
            root=root_hex, signature=signature, slot=slot, leaf_count=len(leaves), create_time=now)
            .returning(tables.batches.c.batch_id))).scalar_one()
        # One statement for the batch (`bulk`: on PostgreSQL an executemany is a statement per
        # row); a settlement no longer POSTED is left as it is.
        await update_rows(session, _S, ("settlement_id",), [
            {"settlement_id": settlement_id, "state": State.ANCHORED, "batch_id": batch_id,
             "batch_position": position, "update_time": now}
            for position, settlement_id in enumerate(leaves)], where=_IS_POSTED)
        return int(batch_id)

    async def batch_members(self, session: AsyncSession, batch_id: int) -> list[Settlement]:
        rows = await session.execute(select(_S, *_BATCH_COLUMNS).join(tables.batches, _BATCH_JOIN)
                                     .where(_S.c.batch_id == batch_id).order_by(_S.c.batch_position))
        return [_settlement(row) for row in rows]

    async def batches(self, session: AsyncSession) -> list[Batch]:
        rows = await session.execute(select(tables.batches).order_by(tables.batches.c.batch_id))
        return [Batch(row.batch_id, row.root, row.signature, row.slot, row.leaf_count) for row in rows]

    # ------------------------------------------------------------------ reads

    async def get(self, session: AsyncSession, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        query = select(_S, *_BATCH_COLUMNS).outerjoin(tables.batches, _BATCH_JOIN).where(
            _S.c.settlement_id == settlement_id)
        if lock:
            query = query.with_for_update(of=_S)
        row = (await session.execute(query)).first()
        return None if row is None else _settlement(row)

    async def page(self, session: AsyncSession, *, party: str | None, state: State | None,
                   after_seq: int, limit: int) -> list[Listed]:
        query = select(_S, *_BATCH_COLUMNS).outerjoin(tables.batches, _BATCH_JOIN).where(_S.c.seq > after_seq)
        if party is not None:
            query = query.where(or_(_S.c.buyer == party, _S.c.seller == party))
        if state is not None:
            query = query.where(_S.c.state == state)
        rows = await session.execute(query.order_by(_S.c.seq).limit(limit))
        return [Listed(row.seq, _settlement(row)) for row in rows]

    async def of_market(self, session: AsyncSession, market: str | None) -> list[Settlement]:
        query = select(_S, *_BATCH_COLUMNS).outerjoin(tables.batches, _BATCH_JOIN)
        if market is not None:
            query = query.where(_S.c.market == market)
        return [_settlement(row) for row in await session.execute(query.order_by(_S.c.seq))]


_B = tables.batches
# Row-by-row changes as one executemany each (bound per row: `key_*` picks it, `new_*` sets it).
_SAVE_PROGRESS = update(_S).where(_S.c.settlement_id == bindparam("key_id")).values(
    state=bindparam("new_state"), attempts=bindparam("new_attempts"), failure_reason=bindparam("new_reason"),
    next_attempt_time=bindparam("new_next"), update_time=bindparam("new_update"))
_IS_POSTED = _S.c.state == State.POSTED
_BATCH_JOIN = and_(_S.c.batch_id == _B.c.batch_id)
_BATCH_COLUMNS = (_B.c.root.label("batch_root"), _B.c.signature.label("batch_signature"),
                  _B.c.slot.label("batch_slot"))


def _row(settlement: Settlement) -> dict[str, Any]:
    terms, charges, progress = settlement.terms, settlement.charges, settlement.progress
    return {
        "settlement_id": settlement.settlement_id, "trade": settlement.trade, "market": settlement.market,
        "sequence": settlement.sequence, "price": terms.price, "quantity": terms.quantity,
        "buyer": terms.buyer, "seller": terms.seller, "buy_order": terms.buy_order,
        "sell_order": terms.sell_order, "base_asset": terms.base_asset, "quote_asset": terms.quote_asset,
        "notional_units": charges.notional_units, "quantity_units": charges.quantity_units,
        "buyer_fee_units": charges.buyer_fee_units, "seller_fee_units": charges.seller_fee_units,
        "execute_time": settlement.execute_time, "state": progress.state, "attempts": progress.attempts,
        "failure_reason": progress.failure_reason, "next_attempt_time": progress.next_attempt_time,
        "create_time": settlement.create_time, "update_time": settlement.update_time,
    }


def _settlement(row: Any) -> Settlement:
    fields = row._mapping
    anchor = None
    if row.batch_id is not None and "batch_root" in fields:
        anchor = AnchorRef(row.batch_id, row.batch_position, fields["batch_root"], fields["batch_signature"],
                           fields["batch_slot"])
    return Settlement(
        settlement_id=row.settlement_id, trade=row.trade, market=row.market, sequence=row.sequence,
        terms=TradeTerms(row.price, row.quantity, row.buyer, row.seller, row.buy_order, row.sell_order,
                         row.base_asset, row.quote_asset),
        charges=Charges(row.notional_units, row.quantity_units, row.buyer_fee_units, row.seller_fee_units),
        execute_time=row.execute_time,
        progress=Progress(State(row.state), row.attempts, row.failure_reason, _utc(row.next_attempt_time)),
        create_time=stored_utc(row.create_time), update_time=stored_utc(row.update_time),
        anchor=anchor)
