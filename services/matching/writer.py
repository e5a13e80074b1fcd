"""One writer per market: apply commands to the engine, journal them in groups, then answer.

Commands queue up while the previous batch's transaction is in flight; the next batch takes all
of them (group commit), so one commit serves many commands, and it is applied to the engine while
the previous one is being written (pipelining; commits stay in order). Every command is applied
before it is journaled (a rejected command must leave no trace) and answered, and its trades and
events published, only after its batch commits. Readers of the live book (GetOrderBook) may see
a batch whose commit is still in flight. If a commit fails, the engine is ahead of the journal:
it is rebuilt from the store and every command applied but not committed fails as UNAVAILABLE,
as if it had never arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, not_
from collections.abc import Sequence
from typing import Any, cast

from services.matching.domain import (
    Auction,
    ClearAuction,
    Command,
    Expire,
    Market,
    MatchingEngine,
    OrderEvent,
    OrderState,
    SubmitOrder,
    SubmitResult,
    Trade,
    apply,
)
from services.matching.feed import Feed
from services.matching.store import Batch, MatchingStore, StoredMarket
from services.runtime.errors import DomainError, Unavailable

log = logging.getLogger("clearmesh.matching")

MAX_BATCH = 10_000
# Commands between snapshots at least; a replay of this many takes ~0.3 s at start-up.
SNAPSHOT_EVERY = 50_000
FINISHED_REMEMBERED = 100_000  # terminal orders kept in memory for idempotent resubmits

_DONE, _FAILED, _KNOWN = 0, 1, 2  # how a command is answered
Pending = tuple[Command, "asyncio.Future[Any]"]
_REMAINING = attrgetter("remaining")


@dataclass
class _Applied:
    """A batch applied to the engine, waiting for its commit to be answered."""

    batch: Batch
    answers: list[tuple[asyncio.Future[Any], Any, int]]
    generation: int


def _journal_unavailable() -> Unavailable:
    return Unavailable("JOURNAL_UNAVAILABLE", "the journal could not be written; retry")


class MarketWriter:
    def __init__(self, store: MatchingStore, stored: StoredMarket, *, lifetime_ns: int | None,
                 max_book_size: int | None, snapshot_every: int) -> None:
        self.store = store
        self.name = stored.market.name
        self._lifetime_ns = lifetime_ns
        self._max_book_size = max_book_size
        self.snapshot_every = snapshot_every
        self.engine = self._rebuild(stored)
        self.sequence = stored.last_sequence  # the journal's last committed command
        self._next_sequence = self.sequence + 1  # the next applied command's number
        self._generation = 0  # bumped when a failed write forces a rebuild
        self._since_snapshot = len(stored.commands)
        self.trades: Feed[Trade] = Feed(self.engine.trade_sequence)
        self.events: Feed[OrderEvent] = Feed(self.engine.sequence)
        # Order id -> its last event, for orders that left the book (answers resubmits).
        self.finished: OrderedDict[str, OrderEvent] = OrderedDict()
        self._pending: list[Pending] = []  # arrived, not yet applied
        self._arrived: asyncio.Future[None] | None = None  # resolved by the next arrival
        self._task: asyncio.Task[None] | None = None

    @property
    def market(self) -> Market:
        return self.engine.market

    def _rebuild(self, stored: StoredMarket) -> MatchingEngine:
        # Replay without the book-size cap: every journaled command was accepted when it ran.
        if stored.snapshot is not None:
            engine = MatchingEngine.restore(stored.snapshot, default_order_lifetime_ns=self._lifetime_ns)
        else:
            engine = MatchingEngine(stored.market, default_order_lifetime_ns=self._lifetime_ns)
        for command in stored.commands:
            apply(engine, command)
            engine.drain_events()
        engine.max_book_size = self._max_book_size
        return engine

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"writer:{self.name}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def execute(self, command: Command) -> asyncio.Future[Any]:
        """Apply `command`: the future gives its outcome once it is durable, or its DomainError.

        A plain function returning the future, not a coroutine: one frame less per command."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # A plain list and one wake-up future, not an asyncio.Queue: this runs once per command.
        self._pending.append((command, future))
        arrived = self._arrived
        if arrived is not None:
            self._arrived = None
            if not arrived.done():
                arrived.set_result(None)
        return future

    async def _run(self) -> None:
        """Apply a batch, then journal it while the next batch is applied (commits stay in order)."""
        in_flight: asyncio.Task[None] | None = None
        while True:
            if not self._pending:
                if in_flight is not None:
                    await in_flight  # nothing else to do: let the answers go out
                    in_flight = None
                else:
                    self._arrived = asyncio.get_running_loop().create_future()
                    await self._arrived
                continue
            pending = self._pending
            self._pending = pending[MAX_BATCH:]
            del pending[MAX_BATCH:]
            applied = self._apply(pending)
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.ensure_future(self._persist(applied))

    def _apply(self, pending: list[Pending]) -> _Applied:
        engine = self.engine
        accepted: list[Command] = []
        answers: list[tuple[asyncio.Future[Any], Any, int]] = []
        trades: list[Trade] = []
        auctions: list[Auction] = []
        submitted: set[str] = set()
        resting, finished = engine._orders, self.finished  # order_status(), inlined: once per command
        for command, future in pending:
            if type(command) is SubmitOrder:
                order_id = command.order_id
                if order_id in submitted or order_id in resting or order_id in finished:
                    answers.append((future, order_id, _KNOWN))  # idempotent resubmit: answer its state
                    continue
                submitted.add(order_id)
            clock_before, events_before = engine._now, engine.sequence
            try:
                outcome = apply(engine, command)
            except DomainError as error:
                answers.append((future, error, _FAILED))
                if engine.sequence != events_before:
                    # The rejected command moved the clock far enough to expire orders: journal
                    # that part, so a replay reaches the same state.
                    accepted.append(Expire(engine._now))
                else:
                    engine._now = clock_before  # as if it never arrived
                continue
            accepted.append(command)
            answers.append((future, outcome, _DONE))
            if isinstance(outcome, SubmitResult):
                trades.extend(outcome.trades)
            elif type(command) is ClearAuction:
                auction, auction_trades = cast(tuple[Auction, Sequence[Trade]], outcome)
                auctions.append(auction)
                trades.extend(auction_trades)
        events = engine.drain_events()
        # Known at once, so a resubmission in the very next batch is recognised.
        left_book = self._remember_finished(events)
        snapshot = None
        if accepted:
            self._since_snapshot += len(accepted)
            # A snapshot costs O(resting orders) and saves replaying the commands since the last
            # one: waiting for at least as many commands as orders keeps it O(1) per command,
            # and replay at start-up bounded by max(snapshot_every, book size) commands.
            if self._since_snapshot >= self.snapshot_every and self._since_snapshot >= len(engine):
                snapshot = engine.snapshot()
                self._since_snapshot = 0
        batch = Batch(self.name, self._next_sequence, accepted, trades, events, auctions, snapshot, left_book)
        self._next_sequence += len(accepted)
        return _Applied(batch, answers, self._generation)

    async def _persist(self, applied: _Applied) -> None:
        batch = applied.batch
        if applied.generation != self._generation:
            # Applied to a book that has since been rebuilt after a failed write: it never happened.
            self._answer([(future, _journal_unavailable(), _FAILED) for future, _, _ in applied.answers])
            return
        if batch.commands:
            try:
                await self.store.append(batch)
            except Exception:
                log.exception("journal write failed; rebuilding the book from the store",
                              extra={"fields": {"market": self.name}})
                self._generation += 1
                stored = await self.store.load(self.market)
                self.engine = self._rebuild(stored)
                self.sequence = stored.last_sequence
                self._next_sequence = self.sequence + 1
                self._since_snapshot = len(stored.commands)
                self.finished.clear()
                self._answer([(future, _journal_unavailable(), _FAILED) for future, _, _ in applied.answers])
                return
            self.sequence += len(batch.commands)
        self.trades.publish(batch.trades)
        self.events.publish(batch.events)
        self._answer(applied.answers)

    def _remember_finished(self, events: list[OrderEvent]) -> list[tuple[str, int]]:
        """Remember the orders that left the book; returns (order id, last event sequence) of each."""
        finished, resting = self.finished, self.engine.resting_order
        left: list[tuple[str, int]] = []
        # Events that leave nothing in the book, picked by C-level maps (most events don't).
        for event in compress(events, map(not_, map(_REMAINING, events))):
            if resting(event.order_id) is None:
                finished[event.order_id] = event
                left.append((event.order_id, event.sequence))
        while len(finished) > FINISHED_REMEMBERED:
            finished.popitem(last=False)
        return left

    def order_status(self, order_id: str) -> SubmitResult | None:
        """An order's current state as far as memory knows: resting, or recently finished."""
        order = self.engine.resting_order(order_id)
        if order is not None:
            state = OrderState.PARTIALLY_FILLED if order.filled else OrderState.OPEN
            return SubmitResult(order_id, state, order.filled, order.remaining, [], "", self.engine.sequence)
        event = self.finished.get(order_id)
        if event is not None:
            return SubmitResult(order_id, event.state, event.filled, 0, [], event.reason, self.engine.sequence)
        return None

    def _answer(self, answers: list[tuple[asyncio.Future[Any], Any, int]]) -> None:
        for future, value, kind in answers:
            if future.done():
                continue
            if kind == _DONE:
                future.set_result(value)
            elif kind == _KNOWN:
                future.set_result(self.order_status(value))
            else:
                future.set_exception(value)
