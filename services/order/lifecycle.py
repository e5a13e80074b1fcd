"""An order's path from placement to its final state, across KYC, Wallet and Matching.

PlaceOrder: validate against the market → KYC (with the account's notional of the last 24 h)
→ store the order PENDING with its hold plan → Wallet.PlaceHold(holds/{order id}) →
Matching.SubmitOrder(orders/{order id}) → the answer moves the order. The order id names the
hold and Matching's order, so every retry (the client's, or the repair after a crash) finds
the same hold and the same order instead of making a second one.

No orphan money: a refusal after the hold, or the Wallet's silence, rejects the order and
releases the hold. Matching's silence does not: Matching may have journaled and filled the
order, so it stays PENDING and held ("unresolved") while the client hears UNAVAILABLE, and the
repair withdraws it by id until Matching's answer is definite (`resolve`). An order left
PENDING (a crash between the steps, or a peer that was down during the repair) is finished by
`repair`, which runs at start and then every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.order import wire
from services.order.domain.enums import STATES_BY_NUMBER, OrderState, OrderType, Side
from services.order.domain.holds import hold_plan
from services.order.domain.market import MarketRules
from services.order.domain.orders import Order, Release
from services.order.domain.reasons import OrderReason
from services.order.domain.validation import OrderSpec, check_order
from services.order.group import GroupWriter
from services.order.markets import Markets
from services.order.metrics import CONFLICTS, ERROR, OUTCOME_OF_STATE, REFUSED, UNAVAILABLE, count_order, timed
from services.order.peers import Peers
from services.order.requests import PlaceCommand
from services.order.store import NotionalSeen, OrderStore, PlacedMeanwhile, Placement
from services.runtime import idempotency, random_ids
from services.runtime.clock import Clock
from services.runtime.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    NotFound,
    Unavailable,
)
from services.runtime.fees import notional_units
from services.runtime.transactions import Transactions
from services.runtime.validation import Violations

log = logging.getLogger("clearmesh.order")

SERVICE = pb.DESCRIPTOR.services_by_name["OrderService"]
PLACE_ORDER = idempotency.method_name(SERVICE, "PlaceOrder")
CANCEL_ORDER = idempotency.method_name(SERVICE, "CancelOrder")
# KYC's trading limits are per rolling 24 h.
NOTIONAL_WINDOW = timedelta(hours=24)
# How long the event follower lets a placement record Matching's answer first (`answered`):
# the answer leaves Matching with the event, a few ms apart; beyond this the follower goes on.
ANSWER_GRACE_SECS = 0.05
# How many times a placement reads the notional and asks KYC when, each time, another replica
# stored orders of the account meanwhile (store.placed_since); then the caller hears ABORTED.
PLACEMENT_ATTEMPTS = 3
# How many recorded answers (`recorded`) wait for their OPEN event at most; beyond it the oldest
# is dropped, and the follower reads that order from the database, as it would without this.
RECORDED_KEPT = 4096


class Lifecycle:
    def __init__(self, tx: Transactions, store: OrderStore, peers: Peers, markets: Markets, clock: Clock, *,
                 fee_rate: Decimal) -> None:
        self.tx = tx
        self.writes = GroupWriter(tx)
        self.store = store
        self.peers = peers
        self.markets = markets
        self.clock = clock
        self.fee_rate = fee_rate
        # Orders this process is placing right now: the repair leaves them to their caller.
        self._in_flight: set[str] = set()
        # Weak: a lock lives only while some placement of that account holds or awaits it.
        self._account_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Order id -> done once the placement submitting it has recorded Matching's answer (or
        # given up): what the event follower waits for (`answered`).
        self._submitting: dict[str, asyncio.Future[None]] = {}
        # Order id -> the order as its placement's answer left it, stored, resting with nothing
        # filled, until the event follower takes it (`recorded`).
        self._recorded: dict[str, Order] = {}

    # ------------------------------------------------------------ placement

    async def place(self, account: str, command: PlaceCommand, violations: Violations,
                    request: pb.PlaceOrderRequest) -> order_pb2.Order:
        with timed("total"):
            return await self._place(account, command, violations, request)

    async def _place(self, account: str, command: PlaceCommand, violations: Violations,
                     request: pb.PlaceOrderRequest) -> order_pb2.Order:
        fingerprint = idempotency.fingerprint(request)
        now = self.clock.now()

        async def lookup(session: AsyncConnection) -> tuple[bytes | Order | None, Placement]:
            """The first answer to this request_id, or the order it made, or None if it is new;
            and the account's notional of the window: one statement for all three."""
            found = await self.store.placement(session, command.request_id, account, now - NOTIONAL_WINDOW)
            remembered = idempotency.replay(found.remembered, PLACE_ORDER, command.request_id, request)
            return (remembered if remembered is not None else found.order), found

        # One account's placements in this process ask KYC one at a time, each with the notional
        # its predecessors already stored (so the read that finds it is inside the lock too).
        # Another replica's may store some in between: the commit then checks that KYC's answer
        # still holds (store.placed_since), and if not this one reads and asks again.
        order: Order | None = None
        # market_orders_total's label for a new order; None for a retry, counted by its first call.
        outcome: str | None = None
        try:
            async with self._account_lock(account):
                for attempt in range(1, PLACEMENT_ATTEMPTS + 1):
                    with timed("store"):
                        existing, found = await self.tx.read_alone(lookup)
                    if existing is not None:
                        break
                    market = await self.markets.get(command.market_id)
                    order = self._new_order(account, command, violations, fingerprint, market, now)
                    outcome = ERROR
                    with timed("kyc"):
                        remaining = await self.peers.check_eligibility(
                            account, market.quote_asset, _kyc_notional(order.spec, market),
                            Decimal(found.notional_units).scaleb(-market.quote_decimals))
                    slack = None if remaining is None else _units_at_most(remaining, market.quote_decimals)
                    # In flight from the moment it is stored: the repair leaves it to this call.
                    self._in_flight.add(order.order_id)
                    try:
                        with timed("store"):
                            existing = await self.writes.write(
                                partial(self._insert, order=order, seen=found.seen, slack_units=slack),
                                order_id=order.order_id)
                    except PlacedMeanwhile:
                        CONFLICTS.inc()
                        if attempt == PLACEMENT_ATTEMPTS:
                            raise Aborted(OrderReason.CONCURRENT_PLACEMENTS,
                                          "the account's orders were being placed elsewhere at the same time; retry",
                                          metadata={"account": account}) from None
                        now = self.clock.now()  # the window `lookup` reads ends now
                        continue
                    finally:
                        if existing is not order:  # not stored, or a concurrent call with this request_id stored first
                            self._in_flight.discard(order.order_id)
                            outcome = None
                    break
            if order is not None and existing is order:
                try:
                    placed = await self._hold_and_submit(order, market, request, patient=False, first=True)
                finally:
                    self._in_flight.discard(order.order_id)
                outcome = OUTCOME_OF_STATE[STATES_BY_NUMBER[placed.state]]
                return placed
        except Unavailable:
            outcome = outcome and UNAVAILABLE
            raise
        except DomainError:
            outcome = outcome and REFUSED
            raise
        finally:
            if order is not None and outcome is not None:
                count_order(order.market_id, order.spec.side, outcome)
        if isinstance(existing, bytes):
            return order_pb2.Order.FromString(existing)
        assert existing is not None
        return await self._retry(existing, fingerprint, request)

    def _new_order(self, account: str, command: PlaceCommand, violations: Violations, fingerprint: str,
                   market: MarketRules, now: datetime) -> Order:
        """The order as it is first stored (PENDING, with its hold plan), or INVALID_ARGUMENT."""
        spec = check_order(command.draft, market, now, violations)
        lots = market.lots(spec.quantity) if spec.quantity is not None else None
        plan = hold_plan(market, spec.side, spec.notional(), lots, self.fee_rate)
        return Order(
            order_id=str(random_ids.uuid4()), account=account, market_id=market.market_id, spec=spec,
            request_id=command.request_id, fingerprint=fingerprint, hold_asset=plan.asset, hold_units=plan.units,
            kyc_notional_units=notional_units(_kyc_notional(spec, market), market.quote_decimals),
            state=OrderState.PENDING, filled_quantity=Decimal(0), average_price="", reject_reason="",
            create_time=now, update_time=now)

    async def _insert(self, session: AsyncSession, *, order: Order, seen: NotionalSeen,
                      slack_units: int | None) -> Order:
        """`order` stored, or the order a concurrent call with its request_id stored first;
        checked at the commit against `seen` and `slack_units` (OrderStore.insert)."""
        if await self.store.insert(session, order, seen, slack_units):
            return order
        existing = await self.store.by_request_id(session, order.request_id)
        assert existing is not None, "the insert found the request_id taken"
        return existing

    async def _retry(self, order: Order, fingerprint: str, request: Message) -> order_pb2.Order:
        """A PlaceOrder whose request_id already made `order`: the same order, never a second."""
        if order.fingerprint != fingerprint:
            raise AlreadyExists("REQUEST_ID_REUSED", "request_id was already used for a different order",
                                metadata={"requestId": order.request_id, "order": order.name})
        if order.state is not OrderState.PENDING:
            return wire.order_message(order)
        if order.order_id in self._in_flight:
            raise Aborted(OrderReason.ORDER_IN_FLIGHT, f"{order.name} is still being placed; retry",
                          metadata={"order": order.name})
        self._in_flight.add(order.order_id)
        try:
            if order.unresolved:  # the first call answered UNAVAILABLE: it is withdrawn, not placed
                await self.resolve(order)
                resolved = await self.tx.read(lambda session: self.store.get(session, order.order_id))
                assert resolved is not None
                return wire.order_message(resolved)
            return await self._hold_and_submit(order, await self.markets.get(order.market_id), request, patient=False)
        finally:
            self._in_flight.discard(order.order_id)

    async def _hold_and_submit(self, order: Order, market: MarketRules, request: Message | None, *,
                               patient: bool, first: bool = False) -> order_pb2.Order:
        """Hold, then submit. `patient` (the repair): when a peer does not answer, the order
        stays PENDING, held, to be tried again. A client's call instead marks it to be withdrawn
        when Matching does not answer, and rejects it and releases when the Wallet does not on
        the `first` try (no SubmitOrder was sent yet)."""
        amount = wire.units_text(order.hold_units, self.markets.decimals(order.hold_asset))
        try:
            with timed("wallet"):
                await self.peers.place_hold(order, amount)
        except Unavailable:
            if not patient and first:
                # The hold may have been placed after all: released (or found absent) like any other.
                # Only on the first try: an earlier one (before a crash) may have reached Matching.
                await self._reject(order, OrderReason.WALLET_UNAVAILABLE, held=True)
            raise
        except DomainError as refusal:  # e.g. INSUFFICIENT_FUNDS: nothing was held
            await self._reject(order, refusal.reason, held=False)
            raise
        submitted = self._submitting.setdefault(order.order_id, asyncio.get_running_loop().create_future())
        try:
            return await self._submit_and_record(order, request, patient=patient)
        finally:
            if self._submitting.get(order.order_id) is submitted:
                del self._submitting[order.order_id]
            if not submitted.done():
                submitted.set_result(None)

    async def answered(self, order_ids: Iterable[str]) -> None:
        """Once the placements submitting these orders have recorded Matching's answer, or after
        ANSWER_GRACE_SECS. The event follower waits for this before it writes an order's events:
        Matching sends the events just before the answer, and the follower's write, going first,
        kept the placement's own write (and so its caller) waiting for a whole commit. After the
        answer the follower's write has little left to change, and runs off the caller's path."""
        waiting = [future for order_id in order_ids if (future := self._submitting.get(order_id)) is not None]
        if waiting:
            await asyncio.wait(waiting, timeout=ANSWER_GRACE_SECS)

    def recorded(self, order_ids: Iterable[str]) -> dict[str, Order]:
        """Taken out, by order id: those of `order_ids` whose placement in this process recorded
        Matching's answer that they rest, nothing filled, and as they were stored then. The
        event follower decides on these whether a batch of OPEN events moves anything without
        reading the orders again (EventFollower.moves_nothing): at 500 placements a second that
        read was one statement per batch, nearly every one telling what the answer had."""
        return {order_id: order for order_id in order_ids if (order := self._recorded.pop(order_id, None)) is not None}

    def _remember_recorded(self, order: Order) -> None:
        if order.state is OrderState.OPEN and not order.filled_quantity:
            self._recorded[order.order_id] = order
            if len(self._recorded) > RECORDED_KEPT:  # its event was missed (a stream restarted)
                del self._recorded[next(iter(self._recorded))]

    async def _submit_and_record(self, order: Order, request: Message | None, *, patient: bool) -> order_pb2.Order:
        """Submit a held order and record Matching's answer (see `_hold_and_submit`)."""
        try:
            with timed("matching"):
                answer = await self.peers.submit(order)
        except Unavailable:
            # Matching may have journaled (and filled) it before the silence: it keeps its hold.
            # A client's call marks it to be withdrawn, a repair's leaves it to be resubmitted;
            # either way the repair keeps asking until Matching's answer is definite.
            if not patient:
                await self._mark_unresolved(order)
            raise
        except DomainError as refusal:  # Matching refused it: it never reached the book
            await self._reject(order, refusal.reason, held=True)
            raise
        state = wire.order_state(answer.state)
        at = self.clock.now()

        async def record(session: AsyncSession) -> tuple[Order, order_pb2.Order]:
            updated = await self._record_answer(session, order, state, answer.filled_quantity, answer.average_price,
                                                answer.reason, answer.sequence, at)
            message = wire.order_message(updated)
            if request is not None:
                idempotency.remember_at_commit(session, PLACE_ORDER, order.request_id, request, message, at)
            return updated, message

        with timed("store"):
            stored, message = await self.writes.write(record, order_id=order.order_id)
        self._remember_recorded(stored)
        return message

    async def _record_answer(self, session: AsyncSession, order: Order, state: OrderState, filled_quantity: str,
                             average_price: str, reason: str, sequence: int, at: datetime) -> Order:
        """Matching's answer to SubmitOrder or CancelOrder on the stored order, saved unless an
        event had already moved the order further. Usually the stored order is still `order`
        as far as the answer is concerned, and one conditional UPDATE applies it; else the
        answer is decided again on the row that UPDATE returned (and locked)."""
        answer = partial(Order.answered, state=state, filled_quantity=Decimal(filled_quantity or "0"),
                         average_price=average_price, reason=reason, sequence=sequence, at=at)
        updated = answer(order)
        if updated is not order:
            saved = await self.store.save_answer(session, order, updated)
            if saved is not None and saved[1]:
                return saved[0]
            current = None if saved is None else saved[0]  # it moved since `order` was read
        else:
            current = await self.store.get(session, order.order_id, lock=True)
        if current is None:
            raise NotFound(OrderReason.ORDER_NOT_FOUND, f"{order.name} vanished")
        updated = answer(current)
        if updated is not current:
            await self.store.save(session, updated)
        return updated

    async def _mark_unresolved(self, order: Order) -> None:
        at = self.clock.now()

        async def mark(session: AsyncSession) -> None:
            current = await self.store.get(session, order.order_id, lock=True)
            # Matching's events may have moved it already (it got the order, the answer was lost).
            if current is not None and current.state is OrderState.PENDING:
                await self.store.save(session, current.unanswered(at))

        await self.writes.write(mark, order_id=order.order_id)

    async def resolve(self, order: Order) -> None:
        """An unresolved order (`Order.unresolved`) settled with Matching. A withdraw alone (a
        cancel by id) cannot tell "never had it" from "the SubmitOrder is still on its way", so
        the order is first resubmitted (idempotent by its id: Matching answers the state of the
        order it has, or places it now), which makes Matching's answer definite, and then
        cancelled if it rests. The order takes Matching's state, and its events release what it
        no longer needs (`held − consumed`). Only a refusal of the resubmission (Matching never
        had it and will not take it) rejects it and releases all of its hold. UNAVAILABLE
        (raised) leaves it unresolved and held for the next try."""
        try:
            answer = await self.peers.submit(order)
        except Unavailable:
            raise
        except DomainError as refusal:
            await self._reject(order, refusal.reason, held=True)
            return
        state, filled, sequence = wire.order_state(answer.state), answer.filled_quantity, answer.sequence
        reason = answer.reason
        if not state.is_final:
            cancelled = await self.peers.cancel(order)
            state, filled, sequence = wire.order_state(cancelled.state), cancelled.filled_quantity, cancelled.sequence
            reason = OrderReason.MATCHING_UNAVAILABLE if state is OrderState.CANCELLED else ""
        at = self.clock.now()
        await self.writes.write(lambda session: self._record_answer(
            session, order, state, filled, "", reason, sequence, at), order_id=order.order_id)

    async def withdraw(self, order: Order) -> bool:
        """After SubmitOrder went unanswered: True if Matching had the order after all (a deadline
        passed while it journaled it) and has now cancelled it, so its events finish it and
        release what it no longer needs; False if Matching does not have it (or cannot say)."""
        try:
            await self.peers.cancel(order)
        except DomainError:  # NOT_FOUND: it never reached the book; UNAVAILABLE: nobody can tell
            return False
        return True

    async def _reject(self, order: Order, reason: str, *, held: bool) -> None:
        at = self.clock.now()

        async def reject(session: AsyncSession) -> Order | None:
            current = await self.store.get(session, order.order_id, lock=True)
            # Matching's events may have moved it already (it got the order, the answer was lost).
            if current is None or current.state is not OrderState.PENDING:
                return None
            rejected = current.rejected(reason, at, held=held)
            await self.store.save(session, rejected)
            return rejected

        rejected = await self.writes.write(reject, order_id=order.order_id)
        if rejected is not None:
            await self.release(rejected)

    def _account_lock(self, account: str) -> asyncio.Lock:
        lock = self._account_locks.get(account)
        if lock is None:
            lock = self._account_locks[account] = asyncio.Lock()
        return lock

    # --------------------------------------------------------- cancellation

    async def cancel(self, order: Order, request_id: str | None, request: pb.CancelOrderRequest) -> order_pb2.Order:
        if request_id is not None:
            remembered = await self.tx.read(lambda session: idempotency.recall(session, CANCEL_ORDER, request_id, request))
            if remembered is not None:
                return order_pb2.Order.FromString(remembered)
        if order.state is OrderState.PENDING or order.state.is_final:
            raise FailedPrecondition(OrderReason.ORDER_NOT_OPEN, f"{order.name} is {order.state.value}, not open",
                                     metadata={"order": order.name, "state": order.state.value})
        answer = await self.peers.cancel(order)
        state = wire.order_state(answer.state)
        at = self.clock.now()

        async def record(session: AsyncSession) -> order_pb2.Order:
            reason = OrderReason.CANCELLED_BY_USER if state is OrderState.CANCELLED else ""
            return wire.order_message(await self._record_answer(
                session, order, state, answer.filled_quantity, "", reason, answer.sequence, at))

        # The release follows from Matching's CANCELLED event, with the fills counted up to it.
        return await idempotency.once(self.tx, self.clock, CANCEL_ORDER, request_id, request, order_pb2.Order, record)

    # ------------------------------------------------------------- releases

    async def release(self, order: Order) -> None:
        """Give back what a final order no longer needs, once: the Wallet remembers the
        deterministic request_id, so a repeat after a lost answer changes nothing."""
        if order.release is not Release.DUE:
            return
        if order.release_units > 0:
            try:
                await self.peers.release_hold(order, wire.units_text(
                    order.release_units, self.markets.decimals(order.hold_asset)))
            except NotFound:
                # No hold was placed (the Wallet refused or never got the PlaceHold); the Wallet
                # keeps the id as released, so a PlaceHold still on its way is refused.
                pass
            except Unavailable as error:  # the repair sweep tries again
                log.warning("the Wallet did not answer a release", extra={"fields": {
                    "order": order.name, "reason": error.reason}})
                return
            except DomainError as error:
                # E.g. HOLD_EXCEEDED: the hold and the fills disagree, which breaks the protocol
                # with Settlement and needs a person; the release stays DUE until then.
                log.error("the Wallet refused a release", extra={"fields": {
                    "order": order.name, "reason": error.reason}})
                return

        async def done(session: AsyncSession) -> None:
            current = await self.store.get(session, order.order_id, lock=True)
            if current is not None and current.release is Release.DUE:
                await self.store.save(session, replace(current, release=Release.DONE))

        await self.writes.write(done, order_id=order.order_id)

    # --------------------------------------------------------------- repair

    async def repair(self) -> None:
        """Finish what a crash or a silent peer left: PENDING orders are held (again; the hold id
        is the order id) and submitted (again; Matching knows the order id), or rejected and
        released if a peer refuses them; unresolved orders are withdrawn (`resolve`); releases
        still due are made."""
        for listed in await self.tx.read(lambda session: self.store.in_state(session, OrderState.PENDING)):
            order_id = listed.order_id
            if order_id in self._in_flight:
                continue
            self._in_flight.add(order_id)
            try:
                # Read again: while the sweep waited on the orders before it, a client's call may
                # have finished this one (rejected it, released its hold); never resubmit that.
                order = await self.tx.read(partial(self.store.get, order_id=order_id))
                if order is None or order.state is not OrderState.PENDING:
                    continue
                if order.unresolved:
                    await self.resolve(order)
                else:
                    await self._hold_and_submit(order, await self.markets.get(order.market_id), None, patient=True)
            except DomainError as error:
                log.info("pending order not finished yet", extra={"fields": {"order": listed.name, "reason": error.reason}})
            finally:
                self._in_flight.discard(order_id)
        for order in await self.tx.read(self.store.releases_due):
            await self.release(order)

    async def repair_forever(self, interval_secs: float) -> None:
        while True:
            try:
                await self.repair()
            except Exception:  # a database hiccup must not end the repair for the process's life
                log.exception("order repair failed")
            await asyncio.sleep(interval_secs)


def _units_at_most(amount: Decimal, decimals: int) -> int:
    """`amount` in the smallest units of an asset of `decimals`, rounded down (never below 0)."""
    return max(0, int(amount.scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR)))


def _kyc_notional(spec: OrderSpec, market: MarketRules) -> Decimal:
    """The order's notional in the quote asset as KYC judges it. A market sell has no price to
    know it by: it is valued at the market's reference price (or one tick), the best estimate
    available before it trades."""
    if spec.order_type is OrderType.LIMIT or spec.side is Side.BUY:
        notional = spec.notional()
        if notional is None:
            raise ValueError("a limit order has a price and a quantity; a market buy a budget")
        return notional
    return (spec.quantity or Decimal(0)) * (market.reference_price or market.tick)
