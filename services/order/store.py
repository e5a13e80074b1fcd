"""The Order service's persistence: orders and the per-market event cursors (SQLAlchemy Core,
async, SQLite and PostgreSQL). Callers run these inside `Transactions.read` / `.write`
(`placement`, a single statement, also inside `.read_alone`).

The statements a placement and the event follower run are built once, at import, with bind
parameters, and executed with their values: building a Core statement with literal values and
computing its cache key again on every call (SQLAlchemy then finds the compiled form in its
cache) cost more of Order's CPU per order than the database did (bench/order.py --profile). Those
run for every order go, on SQLite, to the driver directly (services/runtime/direct_statements.py:
SQLAlchemy's execution of a prebuilt statement still cost ~100 µs of CPU, the driver's ~15);
so do all of those the placement's and the follower's write transactions run, so that these
transactions need no ORM session at all (`DirectSession`, ~200 µs of CPU each)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Integer, String, and_, bindparam, case, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.order import tables
from services.order.domain.enums import OrderState, OrderType, Side, TimeInForce
from services.order.domain.orders import ANSWER_READS, ANSWER_WRITES, Order, Release
from services.order.domain.validation import OrderSpec
from services.runtime import idempotency
from services.runtime.padded_in import PaddedIn
from services.runtime.direct_statements import DirectStatement, is_postgresql
from services.runtime.transactions import add_at_commit, check_at_commit

T = tables.orders
H = tables.notional_hours
LOG = idempotency.request_log
# The rejected state as SQL text (see `_notional_since`).
_REJECTED: ColumnElement[str] = literal_column(f"'{OrderState.REJECTED.value}'")


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


def row_of(order: Order) -> dict[str, Any]:
    """A new order's columns, as `OrderStore.insert` stores them."""
    spec = order.spec
    return dict(
        order_id=order.order_id, account=order.account, market=order.market_id, side=int(spec.side),
        type=int(spec.order_type), time_in_force=int(spec.time_in_force), price=_text(spec.price),
        quantity=_text(spec.quantity), max_notional=_text(spec.max_notional), post_only=spec.post_only,
        expire_time=spec.expire_time, client_order_id=spec.client_order_id, request_id=order.request_id,
        fingerprint=order.fingerprint, hold_asset=order.hold_asset, hold_units=order.hold_units,
        kyc_notional_units=order.kyc_notional_units, create_time=order.create_time, **_progress(order))


@dataclass(frozen=True, slots=True)
class Placement:
    """What a PlaceOrder needs to know before it asks KYC, read in one statement."""

    remembered: idempotency.Entry | None  # the request log's entry for the request_id
    order: Order | None  # the order the request_id made
    notional_units: int  # the account's notional since the window's start (`_notional_since`)
    seen: NotionalSeen  # what a new order's check at commit compares with (`placed_since`)


@dataclass(frozen=True, slots=True)
class NotionalSeen:
    """The account's hours of the window as a placement read them: their sum from `boundary` on."""

    boundary: datetime
    hours_units: int


@dataclass(frozen=True, slots=True)
class _Expected:
    """A new order's check at commit: its account's hours from `boundary` on, which its own
    notional brought to `hours_units`, may have grown by no more than `slack_units` since."""

    account: str
    boundary: datetime
    hours_units: int
    slack_units: int


class PlacedMeanwhile(Exception):
    """Another process stored orders of the account after this placement read its notional,
    more than KYC's answer left room for: the placement reads the notional and asks KYC again."""


def hour_of(moment: datetime) -> datetime:
    """The UTC hour `moment` falls in (its start): an order's row of `tables.notional_hours`."""
    return _utc(moment).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def window_boundary(since: datetime) -> datetime:
    """The first whole hour at or after `since`: from there on the window is counted by hours."""
    hour = hour_of(since)
    return hour if hour == _utc(since) else hour + timedelta(hours=1)


def _notional_since() -> Any:
    """What the account's orders placed since `since` count against its daily notional (a
    rejected order placed nothing), as `hours` + `rest` (bind parameters `account`, `since` and
    `boundary` = `window_boundary(since)`); the same figure as the sum over its orders,

        SUM(kyc_notional_units) WHERE account AND create_time >= since AND state != 'REJECTED',

    without reading every order of the window (which grew with the account's activity: 734,000
    index entries and 727,000 table rows read for 6,600 placements in bench/order.py on
    PostgreSQL). Instead, three sums, each a range of one index:
    - the account's hours from `boundary` on (`tables.notional_hours`: every order stored with
      that create hour, rejected or not): ~24 rows;
    - plus its orders of the oldest, partial hour, [since, boundary), as before (none when
      `since` is on the hour): on average half an hour's orders, at most an hour's;
    - minus its rejected orders from `boundary` on, which those hours counted (the partial index
      `order_orders_account_rejected`: rejections are few).
    The hours only grow, in the very transaction that stores an order, so one statement's
    snapshot sees each order in its hour exactly when it sees the order; `hours` alone is what
    a new order's check at commit compares (`placed_since`). The state is a literal,
    not a parameter: a partial index serves only a query whose own WHERE implies its predicate."""
    account: BindParameter[str] = bindparam("account")
    hours = select(func.coalesce(func.sum(H.c.units), 0)).where(
        H.c.account == account, H.c.hour_start >= bindparam("boundary"))
    oldest = select(func.coalesce(func.sum(T.c.kyc_notional_units), 0)).where(
        T.c.account == account, T.c.create_time >= bindparam("since"), T.c.create_time < bindparam("boundary"),
        T.c.state != _REJECTED)
    rejected = select(func.coalesce(func.sum(T.c.kyc_notional_units), 0)).where(
        T.c.account == account, T.c.state == _REJECTED, T.c.create_time >= bindparam("boundary"))
    return select(hours.scalar_subquery().label("hours"),
                  (oldest.scalar_subquery() - rejected.scalar_subquery()).label("rest"))


def _placement() -> Any:
    """The window's sum, outer-joined to the request log's entry and the order for
    `request_id`: one row always (bind parameters `request_id`, `account`, `since`, `boundary`)."""
    window = _notional_since().subquery("recent")
    return (select(window.c.hours, window.c.rest, LOG.c.method.label("log_method"), LOG.c.fingerprint.label("log_fingerprint"),
                   LOG.c.response.label("log_response"), *T.c)
            .select_from(window.outerjoin(LOG, LOG.c.request_id == bindparam("request_id"))
                         .outerjoin(T, T.c.request_id == bindparam("request_id"))))


def _answer() -> Any:
    """`save_answer`'s conditional UPDATE: each of ANSWER_WRITES set to `new_{name}` if the row
    still holds `known_{name}` for each of ANSWER_READS, else left as it is; the row returned."""
    agrees = and_(*(T.c[name] == bindparam(f"known_{name}") for name in ANSWER_READS))
    return (T.update().where(T.c.order_id == bindparam("target_order_id"))
            .values({name: case((agrees, bindparam(f"new_{name}", type_=T.c[name].type)), else_=T.c[name])
                     for name in ANSWER_WRITES})
            .returning(*T.c))


# Built once (see the module's docstring); the parameters each takes are named where it is used.
# Those run for every order (the placement's three, the event follower's saves and cursor) go
# to SQLite's driver directly (runtime/direct_statements.py).
_PLACEMENT = DirectStatement(_placement())
_ANSWER = DirectStatement(_answer())
# `_progress(order)` and `target_order_id`; a list of those updates many orders in one statement.
_SAVE = DirectStatement(T.update().where(T.c.order_id == bindparam("target_order_id")))
# A new order's columns; the unique request_id decides whether it is stored.
_INSERT = DirectStatement(
    sqlite.insert(T).on_conflict_do_nothing(index_elements=[T.c.request_id]),
    elsewhere={"postgresql": postgresql.insert(T).on_conflict_do_nothing(index_elements=[T.c.request_id])})
_SWEEP_HOURS = DirectStatement(H.delete().where(H.c.hour_start < bindparam("before")))
_GET = select(T).where(T.c.order_id == bindparam("order_id"))
_GET_LOCKED = _GET.with_for_update()


# The event follower's read of a batch's orders, locked, in id order, run in every group it
# joins (and unlocked, alone, for a batch that may move nothing: follower.moves_nothing):
# direct, like the statements above, one fixed statement per power-of-two batch size
# (runtime/padded_in.py).
_MANY = PaddedIn(lambda names: select(T).where(T.c.order_id.in_([bindparam(name) for name, in names]))
                 .order_by(T.c.order_id), prefix="id")
_MANY_LOCKED = PaddedIn(lambda names: select(T).where(T.c.order_id.in_([bindparam(name) for name, in names]))
                        .order_by(T.c.order_id).with_for_update(), prefix="id")
_BY_REQUEST_ID = select(T).where(T.c.request_id == bindparam("request_id"))
_CURSOR = select(tables.cursors.c.sequence).where(tables.cursors.c.market == bindparam("target_market"))
_SET_CURSOR = DirectStatement(tables.cursors.update().where(tables.cursors.c.market == bindparam("target_market")))
_NEW_CURSOR = tables.cursors.insert()


# The account's hours from `boundary` on, per account (`placed_since`).
_HOURS_OF = PaddedIn(lambda names: select(H.c.account, func.sum(H.c.units).label("units"))
                     .where(H.c.account.in_([bindparam(name) for name, in names]), H.c.hour_start >= bindparam("boundary"))
                     .group_by(H.c.account), prefix="account")
# PostgreSQL's transaction-scoped advisory locks of accounts (`placed_since`), in this class of
# keys ("OR"), each account's key its hashtext (two accounts may share one: they then wait for
# each other, which is all). Taken in key order, the sorted subquery's, by every transaction.
ACCOUNT_LOCK_CLASS = 0x4F52
_LOCK_ACCOUNTS = DirectStatement(text(
    "SELECT pg_advisory_xact_lock(:lock_class, key) FROM (SELECT DISTINCT hashtext(account) AS key "
    "FROM unnest(:accounts) AS account ORDER BY key) AS keys").bindparams(
        bindparam("lock_class", type_=Integer), bindparam("accounts", type_=ARRAY(String))))


async def placed_since(session: AsyncSession, expected: list[_Expected]) -> None:
    """A write transaction's new orders checked at its commit (`check_at_commit`): raises
    PlacedMeanwhile if some other process stored more of an account's notional, since the
    placement read it, than KYC's answer left room for. Within one process an account's
    placements take turns (Lifecycle's account lock) and this finds nothing; across Order's
    replicas two could otherwise both pass KYC against the same usage, and the daily limit be
    exceeded.

    Read after the transaction's own hours were added (they are `expected`); on PostgreSQL first
    under each account's advisory lock, which every such transaction holds from here to its
    commit: of two storing orders of one account, the second waits, and then reads (a new
    statement, a new snapshot) what the first committed. A plain read would see neither's
    uncommitted hours, and locking the hour rows would miss two orders in different hours.
    SQLite has one writer, so what this reads stays true until the commit."""
    if is_postgresql(session):
        await _LOCK_ACCOUNTS.run(session, {"lock_class": ACCOUNT_LOCK_CLASS,
                                           "accounts": sorted({item.account for item in expected})})
    for boundary in sorted({item.boundary for item in expected}):
        items = [item for item in expected if item.boundary == boundary]
        statement, params = _HOURS_OF.of(sorted({item.account for item in items}))
        ran = await statement.run(session, {**params, "boundary": boundary})
        now = {row.account: int(row.units) for row in ran.rows}
        for item in items:
            if now.get(item.account, 0) - item.hours_units > item.slack_units:
                raise PlacedMeanwhile(item.account)


class OrderStore:
    async def placement(self, session: AsyncSession | AsyncConnection, request_id: str, account: str,
                        since: datetime) -> Placement:
        """The request log's entry and the order for `request_id`, and the account's notional
        since `since`: one statement (the window's sum, outer-joined to the two rows, one row
        always) instead of three round trips on every placement."""
        boundary = window_boundary(since)
        row = (await _PLACEMENT.run(session, {"request_id": request_id, "account": account, "since": since,
                                              "boundary": boundary})).one()
        remembered = None if row.log_method is None else idempotency.Entry(
            row.log_method, row.log_fingerprint, bytes(row.log_response))
        return Placement(remembered, None if row.order_id is None else _order(row), int(row.hours) + int(row.rest),
                         NotionalSeen(boundary, int(row.hours)))

    async def insert(self, session: AsyncSession, order: Order, seen: NotionalSeen | None = None,
                     slack_units: int | None = None) -> bool:
        """Store a new order; False (and nothing stored) if its request_id already made one. The
        unique key decides, so there is no read before it (a concurrent insert of the same
        request_id is waited for on PostgreSQL, serialized on SQLite). A stored order's notional
        is added to its account's hour at the end of the transaction (`add_at_commit`: one
        upsert for the whole group, in key order, so groups never lock two hours in opposite
        orders).

        With `seen` (what the placement read before it asked KYC) and `slack_units` (how much
        more KYC's answer left room for; None: no limit binds), the commit first checks that
        no other process stored more of the account's notional since (`placed_since`), and
        raises PlacedMeanwhile if one did."""
        result = await _INSERT.run(session, row_of(order))
        if not result.rowcount:
            return False
        add_at_commit(session, H, {"account": order.account, "hour_start": hour_of(order.create_time)}, "units",
                      order.kyc_notional_units)
        if seen is not None and slack_units is not None:
            check_at_commit(session, placed_since, _Expected(
                order.account, seen.boundary, seen.hours_units + order.kyc_notional_units, slack_units))
        return True

    async def sweep_hours(self, session: AsyncSession, before: datetime) -> int:
        """Every account's hours that start before `before` deleted (`tables.notional_hours`);
        how many. Only for hours no window reaches any more: the read starts at a boundary
        after its window's start (`_notional_since`)."""
        result = await _SWEEP_HOURS.run(session, {"before": before})
        return int(result.rowcount)

    async def save(self, session: AsyncSession, order: Order) -> None:
        await self.save_all(session, [order])

    async def save_all(self, session: AsyncSession, orders: Sequence[Order]) -> None:
        """Each order's progress saved: one statement for all of them (executemany)."""
        if orders:
            await _SAVE.run_many(session, [{**_progress(order), "target_order_id": order.order_id} for order in orders])

    async def save_answer(self, session: AsyncSession, before: Order, after: Order) -> tuple[Order, bool] | None:
        """`after` (= `before.answered(...)`) applied to the stored order if that still agrees
        with `before` on what an answer reads (`ANSWER_READS`): one UPDATE, which otherwise
        leaves the row as it is. The order as stored then (locked on PostgreSQL either way, so
        a caller may decide on it within the transaction) and whether `after` is what it holds;
        None if there is no such order. The condition is in each SET (not in WHERE) so that the
        row comes back even when it moved since `before`: the one statement replaces the read
        that the decision would otherwise need."""
        progress, known = _progress(after), _progress(before)
        row = (await _ANSWER.run(session, {
            "target_order_id": before.order_id,
            **{f"known_{name}": known[name] for name in ANSWER_READS},
            **{f"new_{name}": progress[name] for name in ANSWER_WRITES}})).first()
        if row is None:
            return None
        stored = _order(row)
        return stored, all(getattr(stored, name) == getattr(after, name) for name in ANSWER_WRITES)

    async def get(self, session: AsyncSession, order_id: str, *, lock: bool = False) -> Order | None:
        row = (await session.execute(_GET_LOCKED if lock else _GET, {"order_id": order_id})).first()
        return None if row is None else _order(row)

    async def many(self, session: AsyncSession | AsyncConnection, order_ids: Iterable[str], *,
                   lock: bool = True) -> dict[str, Order]:
        """The stored ones among `order_ids`, locked (unless not `lock`), in id order (one lock
        order for every writer)."""
        ids = sorted(set(order_ids))
        if not ids:
            return {}
        statement, params = (_MANY_LOCKED if lock else _MANY).of(ids)
        ran = await statement.run(session, params)
        return {row.order_id: _order(row) for row in ran.rows}

    async def by_request_id(self, session: AsyncSession, request_id: str) -> Order | None:
        row = (await session.execute(_BY_REQUEST_ID, {"request_id": request_id})).first()
        return None if row is None else _order(row)

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
        value = (await session.execute(_CURSOR, {"target_market": market})).scalar_one_or_none()
        return int(value or 0)

    async def set_cursor(self, session: AsyncSession, market: str, sequence: int) -> None:
        updated = await _SET_CURSOR.run(session, {"target_market": market, "sequence": sequence})
        if updated.rowcount == 0:
            await session.execute(_NEW_CURSOR, {"market": market, "sequence": sequence})
