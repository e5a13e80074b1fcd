"""An order's path from placement to its final state, across KYC, Wallet and Matching.

PlaceOrder: validate against the market → KYC (with the account's notional of the last 24 h)
→ store the order PENDING with its hold plan → Wallet.PlaceHold(holds/{order id}) →
Matching.SubmitOrder(orders/{order id}) → the answer moves the order. The order id names the
hold and Matching's order, so every retry (the client's, or the repair after a crash) finds
the same hold and the same order instead of making a second one.

No orphan money: a refusal or silence after the hold rejects the order and releases the hold;
an order left PENDING (a crash between the steps, or a peer that was down during the repair)
is finished by `repair`, which runs at start and then every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import wire
from services.order.domain.enums import OrderState, OrderType, Side
from services.order.domain.holds import hold_plan
from services.order.domain.market import MarketRules
from services.order.domain.orders import Order, Release
from services.order.domain.reasons import OrderReason
from services.order.domain.validation import OrderSpec, check_order
from services.order.group import GroupWriter
from services.order.markets import Markets
from services.order.peers import Peers
from services.order.requests import PlaceCommand
from services.order.store import OrderStore
from services.runtime import idempotency
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

    # ------------------------------------------------------------ placement

    async def place(self, account: str, command: PlaceCommand, violations: Violations,
                    request: pb.PlaceOrderRequest) -> order_pb2.Order:
        fingerprint = idempotency.fingerprint(request)

        async def earlier(session: AsyncSession) -> bytes | Order | None:
            """The first answer to this request_id, or the order it made, or None if it is new."""
            remembered = await idempotency.recall(session, PLACE_ORDER, command.request_id, request)
            return remembered if remembered is not None else await self.store.by_request_id(session, command.request_id)

        existing = await self.tx.read(earlier)
        if isinstance(existing, bytes):
            return order_pb2.Order.FromString(existing)
        if existing is not None:
            return await self._retry(existing, fingerprint, request)
        market = await self.markets.get(command.market_id)
        now = self.clock.now()
        spec = check_order(command.draft, market, now, violations)
        kyc_amount = _kyc_notional(spec, market)
        lots = market.lots(spec.quantity) if spec.quantity is not None else None
        plan = hold_plan(market, spec.side, spec.notional(), lots, self.fee_rate)
        order = Order(
            order_id=str(uuid.uuid4()), account=account, market_id=market.market_id, spec=spec,
            request_id=command.request_id, fingerprint=fingerprint, hold_asset=plan.asset, hold_units=plan.units,
            kyc_notional_units=notional_units(kyc_amount, market.quote_decimals), state=OrderState.PENDING,
            filled_quantity=Decimal(0), average_price="", reject_reason="", create_time=now, update_time=now)
        self._in_flight.add(order.order_id)
        try:
            # One account's placements in this process ask KYC one at a time, each with the
            # notional its predecessors already stored.
            async with self._account_lock(account):
                used = await self.tx.read(
                    lambda session: self.store.notional_since(session, account, now - NOTIONAL_WINDOW))
                await self.peers.check_eligibility(account, market.quote_asset, kyc_amount,
                                                   Decimal(used).scaleb(-market.quote_decimals))
                stored = await self.writes.write(lambda session: self._insert(session, order))
            if stored is not order:  # a concurrent call with the same request_id stored first
                return await self._retry(stored, fingerprint, request)
            return await self._hold_and_submit(order, market, request, patient=False)
        finally:
            self._in_flight.discard(order.order_id)

    async def _insert(self, session: AsyncSession, order: Order) -> Order:
        existing = await self.store.by_request_id(session, order.request_id)
        if existing is not None:
            return existing
        await self.store.insert(session, order)
        return order

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
            return await self._hold_and_submit(order, await self.markets.get(order.market_id), request, patient=False)
        finally:
            self._in_flight.discard(order.order_id)

    async def _hold_and_submit(self, order: Order, market: MarketRules, request: Message | None, *,
                               patient: bool) -> order_pb2.Order:
        """Hold, then submit. `patient` (the repair): when a peer does not answer, the order
        stays PENDING, held, to be tried again; a client's call instead rejects it and releases."""
        amount = wire.units_text(order.hold_units, self.markets.decimals(order.hold_asset))
        try:
            await self.peers.place_hold(order, amount)
        except Unavailable:
            if not patient:
                # The hold may have been placed after all: released (or found absent) like any other.
                await self._reject(order, OrderReason.WALLET_UNAVAILABLE, held=True)
            raise
        except DomainError as refusal:  # e.g. INSUFFICIENT_FUNDS: nothing was held
            await self._reject(order, refusal.reason, held=False)
            raise
        try:
            answer = await self.peers.submit(order)
        except Unavailable:
            if not patient and not await self.withdraw(order):
                await self._reject(order, OrderReason.MATCHING_UNAVAILABLE, held=True)
            raise
        except DomainError as refusal:  # Matching refused it: it never reached the book
            await self._reject(order, refusal.reason, held=True)
            raise
        state = wire.order_state(answer.state)
        at = self.clock.now()

        async def record(session: AsyncSession) -> order_pb2.Order:
            updated = await self._record_answer(session, order, state, answer.filled_quantity, answer.average_price,
                                                answer.reason, answer.sequence, at)
            message = wire.order_message(updated)
            if request is not None:
                await idempotency.remember(session, PLACE_ORDER, order.request_id, request, message, at)
            return message

        return await self.writes.write(record)

    async def _record_answer(self, session: AsyncSession, order: Order, state: OrderState, filled_quantity: str,
                             average_price: str, reason: str, sequence: int, at: datetime) -> Order:
        """Matching's answer to SubmitOrder or CancelOrder on the stored order (locked), saved
        unless an event had already moved the order further."""
        current = await self.store.get(session, order.order_id, lock=True)
        if current is None:
            raise NotFound(OrderReason.ORDER_NOT_FOUND, f"{order.name} vanished")
        updated = current.answered(state, Decimal(filled_quantity or "0"), average_price, reason, sequence, at)
        if updated is not current:
            await self.store.save(session, updated)
        return updated

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

        rejected = await self.writes.write(reject)
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
                pass  # no hold was ever placed (the Wallet refused or never got the PlaceHold)
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

        await self.writes.write(done)

    # --------------------------------------------------------------- repair

    async def repair(self) -> None:
        """Finish what a crash or a silent peer left: PENDING orders are held (again; the hold id
        is the order id) and submitted (again; Matching knows the order id), or rejected and
        released if a peer refuses them; releases still due are made."""
        for order in await self.tx.read(lambda session: self.store.in_state(session, OrderState.PENDING)):
            if order.order_id in self._in_flight:
                continue
            self._in_flight.add(order.order_id)
            try:
                await self._hold_and_submit(order, await self.markets.get(order.market_id), None, patient=True)
            except DomainError as error:
                log.info("pending order not finished yet", extra={"fields": {"order": order.name, "reason": error.reason}})
            finally:
                self._in_flight.discard(order.order_id)
        for order in await self.tx.read(self.store.releases_due):
            await self.release(order)

    async def repair_forever(self, interval_secs: float) -> None:
        while True:
            try:
                await self.repair()
            except Exception:  # a database hiccup must not end the repair for the process's life
                log.exception("order repair failed")
            await asyncio.sleep(interval_secs)


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
