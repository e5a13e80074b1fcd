"""One writer per market: apply commands to the engine, journal them in groups, then answer.

Commands queue up while the previous batch's transaction is in flight; the next batch takes all
of them (group commit), so one commit serves many commands, and it is applied to the engine while
the previous one is being written (pipelining; commits stay in order). Every command is applied
before it is journaled (a rejected command must leave no trace) and answered, and its trades and
events published, only after its batch commits. Readers of the live book (GetOrderBook) may see
a batch whose commit is still in flight. If a commit fails, the engine is ahead of the journal:
it is rebuilt from the store and every command applied but not committed fails as UNAVAILABLE,
as if it had never arrived.

Orders that left the book are remembered for idempotent resubmits. The store's index of them
(order id -> last event, finished_index.py) is written in bulk when a snapshot is taken, not
with every batch: one B-tree insert per finished order in every commit was the journal's
largest cost. After the batch that ends with the snapshot commits, the orders that finished up
to it go to the index, off the journal's path, and only then is the snapshot stored. So the
orders that finished after the stored snapshot are exactly those a replay from it finishes
again: memory keeps them until they are indexed, and a rebuild (start-up, or after a failed
write) recovers them by the replay it does anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, islice, repeat
from operator import attrgetter, not_
from typing import Any, cast

from services.matching.blocks import encode_snapshot
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
from services.matching.domain.reasons import MatchingReason
from services.matching.domain.resubmission import (
    Terms,
    command_terms,
    differing_fields,
    resting_terms,
)
from services.matching.feed import Feed
from services.matching.metrics import MarketChildren
from services.matching.store import Batch, MatchingStore, StoredMarket
from services.runtime.errors import Aborted, AlreadyExists, DomainError, Unavailable

log = logging.getLogger("clearmesh.matching")

MAX_BATCH = 10_000
# Commands between snapshots at least; a replay of this many takes ~0.3 s at start-up.
SNAPSHOT_EVERY = 50_000
# Indexed finished orders kept in memory besides the unindexed ones, to answer resubmits at once.
FINISHED_REMEMBERED = 100_000
# A rebuild after a failed write retries reading the journal, backing off up to this (seconds).
REBUILD_RETRY_FIRST_S = 0.05
REBUILD_RETRY_MAX_S = 2.0

_FAILED, _KNOWN = 1, 2  # how a command outside the normal path is answered
Pending = tuple[Command, "asyncio.Future[Any]"]
_REMAINING = attrgetter("remaining")
_ORDER_ID = attrgetter("order_id")
_SEQUENCE = attrgetter("sequence")


@dataclass
class _Applied:
    """A batch applied to the engine, waiting for its commit to be answered."""

    batch: Batch
    futures: list[asyncio.Future[Any]]  # of the commands applied, answered by their outcomes
    outcomes: list[Any]
    others: list[tuple[asyncio.Future[Any], Any, int]]  # resubmits (_KNOWN) and refusals (_FAILED)
    generation: int
    # Taken after the batch's last command, encoded at once (its per-order tuples die young);
    # stored once `finished` (up to it) is indexed.
    snapshot: str | None = None
    finished: list[OrderEvent] | None = None

    def all_futures(self) -> list[asyncio.Future[Any]]:
        return self.futures + [future for future, _, _ in self.others]


def _journal_unavailable() -> Unavailable:
    return Unavailable(MatchingReason.JOURNAL_UNAVAILABLE, "the journal could not be written; retry")


def _order_id_reused(order_id: str, fields: list[str]) -> AlreadyExists:
    return AlreadyExists(MatchingReason.ORDER_ID_REUSED,
                         f"order {order_id} exists with a different {', '.join(fields)}",
                         metadata={"order": order_id, "fields": ",".join(fields)})


class MarketWriter:
    def __init__(self, store: MatchingStore, stored: StoredMarket, *, lifetime_ns: int | None,
                 max_book_size: int | None, snapshot_every: int) -> None:
        self.store = store
        self.name = stored.market.name
        self._lifetime_ns = lifetime_ns
        self._max_book_size = max_book_size
        self.snapshot_every = snapshot_every
        # Order id -> its last event, for orders that left the book (answers resubmits): every
        # one not yet in the store's index, and the most recent indexed ones.
        # A plain dict keeps insertion order, which is the order they finished in.
        self.finished: dict[str, OrderEvent] = {}
        self._unindexed: list[OrderEvent] = []  # last events of the orders the index lacks, oldest first
        # The command of every order submitted since the last rebuild that memory still knows
        # (resting, or in `finished`), to tell a resubmission from a reused order id.
        self._submissions: dict[str, SubmitOrder] = {}
        # Order id -> the traceparent of the traced call submitting it, until it is applied:
        # the trades it takes carry it (Trade.trace). Empty unless tracing samples something.
        self._traces: dict[str, str] = {}
        self.engine = self._rebuild(stored)
        self.sequence = stored.last_sequence  # the journal's last committed command
        self._next_sequence = self.sequence + 1  # the next applied command's number
        self._generation = 0  # bumped when a failed write forces a rebuild
        self._since_snapshot = len(stored.commands)
        self.trades: Feed[Trade] = Feed(self.engine.trade_sequence)
        self.events: Feed[OrderEvent] = Feed(self.engine.sequence)
        self._indexing: asyncio.Task[None] | None = None  # index, then store a snapshot
        self._pending: list[Pending] = []  # arrived, not yet applied
        self._arrived: asyncio.Future[None] | None = None  # resolved by the next arrival
        # Set (and replaced) whenever a batch commits or a failed write forces a rebuild.
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._metrics = MarketChildren(self.name)

    @property
    def market(self) -> Market:
        return self.engine.market

    def _rebuild(self, stored: StoredMarket) -> MatchingEngine:
        """The engine as the journal has it; memory of finished orders restarts from the replay."""
        # Replay without the book-size cap: every journaled command was accepted when it ran.
        if stored.snapshot is not None:
            engine = MatchingEngine.restore(stored.snapshot, default_order_lifetime_ns=self._lifetime_ns)
        else:
            engine = MatchingEngine(stored.market, default_order_lifetime_ns=self._lifetime_ns)
        replayed: list[OrderEvent] = []
        for command in stored.commands:
            apply(engine, command)
            replayed += engine.drain_events()
        engine.max_book_size = self._max_book_size
        # The orders the replay finished are the ones the index does not hold yet.
        self.finished = {}
        self._unindexed = []
        self._submissions = {command.order_id: command for command in stored.commands if type(command) is SubmitOrder}
        self._remember_finished(engine, replayed)
        return engine

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"writer:{self.name}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._indexing is not None:  # bounded work; a snapshot half-done would only be lost
            await asyncio.gather(self._indexing, return_exceptions=True)

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
            started = time.perf_counter()
            applied = self._apply(pending)
            self._metrics.matching.observe(time.perf_counter() - started)
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.ensure_future(self._persist(applied))

    def _apply(self, pending: list[Pending]) -> _Applied:
        engine = self.engine
        accepted: list[Command] = []
        futures: list[asyncio.Future[Any]] = []
        outcomes: list[Any] = []
        others: list[tuple[asyncio.Future[Any], Any, int]] = []
        trades: list[Trade] = []
        auctions: list[Auction] = []
        # The known-order check, inlined: once per command. Submissions include this batch's,
        # so a twin in the same batch is a resubmission too.
        state = engine.state
        resting, finished, submissions, traces = state.orders, self.finished, self._submissions, self._traces
        for command, future in pending:
            trace = ""
            if type(command) is SubmitOrder:
                order_id = command.order_id
                if traces:
                    trace = traces.pop(order_id, "")
                if order_id in submissions or order_id in resting or order_id in finished:
                    # Answered with the batch, so only once the first submission is durable.
                    others.append((future, *self._resubmission(command)))
                    continue
                submissions[order_id] = command
            clock_before, events_before = engine.now, state.event_seq
            try:
                outcome = apply(engine, command)
            except DomainError as error:
                if type(command) is SubmitOrder:
                    del submissions[command.order_id]  # refused: the order does not exist
                others.append((future, error, _FAILED))
                if state.event_seq != events_before:
                    # The rejected command moved the clock far enough to expire orders: journal
                    # that part, so a replay reaches the same state.
                    accepted.append(Expire(engine.now))
                else:
                    engine.rewind(clock_before)  # as if it never arrived
                continue
            accepted.append(command)
            futures.append(future)
            outcomes.append(outcome)
            if isinstance(outcome, SubmitResult):
                if trace and outcome.trades:
                    outcome.trades[:] = [trade._replace(trace=trace) for trade in outcome.trades]
                trades.extend(outcome.trades)
            elif type(command) is ClearAuction:
                auction, auction_trades = cast(tuple[Auction, Sequence[Trade]], outcome)
                auctions.append(auction)
                trades.extend(auction_trades)
        events = engine.drain_events()
        # Known at once, so a resubmission in the very next batch is recognised.
        self._remember_finished(engine, events)
        if others:
            # A resubmission is answered with the order as this batch leaves it, not as the
            # engine stands once the batch commits: by then the next batch may be applied too
            # (a backlog beyond MAX_BATCH), and if that one's write failed, the answer would
            # show a state and a sequence the journal never reaches, and Order, holding that
            # sequence, would ignore the events that replace them.
            others = [(future, (value, self.order_status(value)) if kind == _KNOWN else value, kind)
                      for future, value, kind in others]
        applied = _Applied(Batch(self.name, self._next_sequence, accepted, trades, events, auctions),
                           futures, outcomes, others, self._generation)
        self._next_sequence += len(accepted)
        if accepted:
            self._since_snapshot += len(accepted)
            # A snapshot costs O(resting orders) and saves replaying the commands since the last
            # one: waiting for at least as many commands as orders keeps it O(1) per command,
            # and replay at start-up bounded by max(snapshot_every, book size) commands.
            if (self._since_snapshot >= self.snapshot_every and self._since_snapshot >= len(engine)
                    and (self._indexing is None or self._indexing.done())):
                applied.snapshot = encode_snapshot(engine.snapshot())
                applied.finished, self._unindexed = self._unindexed, []
                self._since_snapshot = 0
        return applied

    async def _persist(self, applied: _Applied) -> None:
        batch = applied.batch
        if applied.generation != self._generation:
            # Applied to a book that has since been rebuilt after a failed write: it never happened.
            self._fail(applied)
            return
        if batch.commands:
            try:
                await self.store.append(batch)
            except Exception:
                log.exception("journal write failed; rebuilding the book from the store",
                              extra={"fields": {"market": self.name}})
                self._generation += 1
                await self._rebuild_from_store()
                self._fail(applied)  # once the book no longer shows them
                self._signal_progress()
                return
            self.sequence += len(batch.commands)
            if applied.snapshot is not None:
                self._indexing = asyncio.ensure_future(self._index_then_snapshot(applied, applied.snapshot))
        if batch.trades:
            self._metrics.trades.inc(len(batch.trades))
        self.trades.publish(batch.trades)
        self.events.publish(batch.events)
        self._answer(applied)
        self._signal_progress()

    def _signal_progress(self) -> None:
        woken, self._progress = self._progress, asyncio.Event()
        woken.set()

    async def _once_journaled(self, result: SubmitResult) -> SubmitResult:
        """`result`, read from an engine that may be ahead of the journal (a batch being
        written), once the events up to its sequence are journaled: UNAVAILABLE if that write
        fails, so no caller acts on a state that a restart would not show."""
        generation = self._generation
        while self.events.last_sequence < result.sequence:
            await self._progress.wait()
            if generation != self._generation:
                raise _journal_unavailable()
        return result

    async def _rebuild_from_store(self) -> None:
        """After a failed write: the engine as the journal has it, once the store can be read.

        Until then nothing else is applied (the writer's loop waits for this), so no command
        is ever applied to a book holding a batch that was never journaled."""
        delay = REBUILD_RETRY_FIRST_S
        while True:
            try:
                stored = await self.store.load(self.market)
                break
            except Exception:
                log.exception("reading the journal failed; retrying", extra={"fields": {"market": self.name}})
                await asyncio.sleep(delay)
                delay = min(delay * 2, REBUILD_RETRY_MAX_S)
        self.engine = self._rebuild(stored)
        self.sequence = stored.last_sequence
        self._next_sequence = self.sequence + 1
        self._since_snapshot = len(stored.commands)

    async def _index_then_snapshot(self, applied: _Applied, snapshot: str) -> None:
        """Index the orders that finished up to a committed batch, then store its snapshot."""
        finished = applied.finished or []
        try:
            await self.store.index_finished(self.name, list(zip(map(_ORDER_ID, finished), map(_SEQUENCE, finished))))
        except Exception:
            log.exception("indexing finished orders failed; they stay in memory for the next snapshot",
                          extra={"fields": {"market": self.name}})
            if applied.generation == self._generation:  # a rebuild has them from its replay already
                self._unindexed[:0] = finished
            return
        if applied.generation == self._generation:
            self._forget_indexed()
        try:
            await self.store.save_snapshot(self.name, applied.batch.last_sequence, snapshot)
        except Exception:  # the previous snapshot still serves; the next one will be taken later
            log.exception("storing a snapshot failed", extra={"fields": {"market": self.name}})

    def _remember_finished(self, engine: MatchingEngine, events: list[OrderEvent]) -> None:
        """Remember the orders that left the book, at least until the index has them."""
        # Events that leave nothing in the book, picked by C-level maps (most events don't);
        # an order whose remainder rests on (a partial fill's event) is not finished.
        final = list(compress(events, map(not_, map(_REMAINING, events))))
        ids = list(map(_ORDER_ID, final))
        resting = engine.state.orders
        if any(map(resting.__contains__, ids)):
            final = [event for event in final if event.order_id not in resting]
            ids = list(map(_ORDER_ID, final))
        self.finished.update(zip(ids, final))
        self._unindexed += final

    def _forget_indexed(self) -> None:
        """Once the index has them: drop the oldest remembered orders beyond FINISHED_REMEMBERED."""
        surplus = len(self.finished) - FINISHED_REMEMBERED - len(self._unindexed)  # unindexed are newest
        if surplus > 0:  # rebuilt rather than popped one by one: rare, and C-level
            deque(map(self._submissions.pop, islice(self.finished, surplus), repeat(None)), maxlen=0)
            self.finished = dict(islice(self.finished.items(), surplus, None))

    def _resubmission(self, command: SubmitOrder) -> tuple[Any, int]:
        """How a submission of a known order id is answered: its state, or ORDER_ID_REUSED."""
        order_id = command.order_id
        first = self._submissions.get(order_id)
        known: Terms
        if first is not None:
            known = command_terms(first)
        else:
            order = self.engine.resting_order(order_id)
            known = resting_terms(order) if order is not None else {"account": self.finished[order_id].account}
        differing = differing_fields(known, command)
        if differing:
            return _order_id_reused(order_id, differing), _FAILED
        return order_id, _KNOWN

    def _remembers(self, order_id: str) -> bool:
        return (order_id in self._submissions or self.engine.resting_order(order_id) is not None
                or order_id in self.finished)

    async def submit(self, command: SubmitOrder, trace: str = "") -> SubmitResult:
        """Submit an order, idempotently by its id: a known order answers its state once it is
        durable, unless the resubmission asks for something else (ALREADY_EXISTS). `trace`, the
        traceparent of a traced call, goes onto the trades the order takes as the taker."""
        finished = await self.finished_before(command)
        if finished is not None:
            return finished
        result: SubmitResult = await self.enqueue(command, trace)
        return result

    async def finished_before(self, command: SubmitOrder) -> SubmitResult | None:
        """The answer to a resubmission of an order that finished before memory's window (the
        index knows it; ALREADY_EXISTS if it asks for something else), or None: `enqueue` it."""
        answer = (await self.finished_before_many([command]))[0]
        if isinstance(answer, DomainError):
            raise answer
        return answer

    async def finished_before_many(self, commands: Sequence[SubmitOrder]) -> list[SubmitResult | DomainError | None]:
        """`finished_before` for each of `commands`, its error returned: the orders memory does
        not know looked up in the index together (one statement for a batch, not one each)."""
        unknown = [command.order_id for command in commands if not self._remembers(command.order_id)]
        events = await self.store.last_events_of(self.name, unknown) if unknown else {}
        answers: list[SubmitResult | DomainError | None] = []
        for command in commands:
            event = events.get(command.order_id)
            if event is None:
                answers.append(None)
                continue
            differing = differing_fields({"account": event.account}, command)
            answers.append(_order_id_reused(command.order_id, differing) if differing else self._finished_result(event))
        return answers

    def enqueue(self, command: SubmitOrder, trace: str = "") -> asyncio.Future[Any]:
        """`execute` for a submission (after `finished_before`): applied in the order enqueued."""
        if trace:
            self._traces[command.order_id] = trace
        return self.execute(command)

    async def status(self, order_id: str) -> SubmitResult | None:
        """An order's current state, from memory or else the finished-orders index, once it is
        journaled (memory may hold a batch whose write is still in flight)."""
        known = self.order_status(order_id)
        if known is None:
            event = await self.store.last_event_of(self.name, order_id)
            if event is None:
                return None
            known = self._finished_result(event)
        return await self._once_journaled(known)

    def _finished_result(self, event: OrderEvent) -> SubmitResult:
        return SubmitResult(event.order_id, event.state, event.filled, 0, [], event.reason, self.engine.sequence)

    def order_status(self, order_id: str) -> SubmitResult | None:
        """An order's current state as far as memory knows: resting, or recently finished."""
        order = self.engine.resting_order(order_id)
        if order is not None:
            state = OrderState.PARTIALLY_FILLED if order.filled else OrderState.OPEN
            return SubmitResult(order_id, state, order.filled, order.remaining, [], "", self.engine.sequence)
        event = self.finished.get(order_id)
        return None if event is None else self._finished_result(event)

    def _answer(self, applied: _Applied) -> None:
        for future, outcome in zip(applied.futures, applied.outcomes):
            if not future.done():  # not cancelled by a caller that gave up
                future.set_result(outcome)
        for future, value, kind in applied.others:
            if future.done():
                continue
            if kind == _KNOWN:
                order_id, status = value
                if status is None:  # forgotten since (the oldest of memory's window): a retry finds it indexed
                    future.set_exception(Aborted(MatchingReason.ORDER_IN_FLIGHT, f"order {order_id} moved; retry"))
                else:
                    future.set_result(status)
            else:
                future.set_exception(value)

    @staticmethod
    def _fail(applied: _Applied) -> None:
        """Every command of a batch that will never be journaled fails, retryable."""
        for future in applied.all_futures():
            if not future.done():
                future.set_exception(_journal_unavailable())
