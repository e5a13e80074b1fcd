"""Posting: PENDING settlements go to the Wallet in batches and become POSTED together.

Each trade's transfer id is the trade's name, so a batch posted twice (a crash between the
Wallet's commit and ours, a lost answer) posts nothing twice. A refused batch is narrowed
down by halves (`domain.batching`) so one bad trade fails alone; a transient failure counts
one attempt for every settlement in the batch, which then waits its backoff
(`SETTLEMENT_RETRY_DELAY_SECS` × 2^(attempt − 1)); the last allowed failure makes it FAILED.

Up to `MAX_IN_FLIGHT` batches are posted at once: while the Wallet posts one, the poster reads
and sends the next, so the two processes work side by side instead of taking turns. A
settlement is in at most one batch in flight: the next read leaves out the ids in flight, and
they stay out until their batch's outcome (POSTED, or the failure and its backoff) is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import Clock
from services.runtime.errors import DomainError
from services.runtime.transactions import Transactions
from services.settlement import metrics
from services.settlement.domain.batching import BatchLimits, halves, is_transient
from services.settlement.domain.charges import trade_postings
from services.settlement.domain.settlement import Settlement, transfer_id_for
from services.settlement.domain.states import Progress, RetryPolicy, State, attempt_failed
from services.settlement.ledger import TradeTransfer, WalletLedger
from services.settlement.store import SettlementStore
from services.settlement.worker import Worker
from services.wallet.domain import AssetCatalog

log = logging.getLogger("clearmesh.settlement.poster")
_tracer = trace.get_tracer("clearmesh.settlement")

POST_LIMITS = BatchLimits(max_count=500, max_wait_secs=0.005)
# Batches posted at once. Two keep both processes busy (one batch in the Wallet, the next being
# read and sent); more would only queue at the Wallet, whose writes to `system/fees` serialize.
MAX_IN_FLIGHT = 2
# How long an idle poster sleeps when nothing wakes it (a backoff ending, another process).
IDLE_SECS = 1.0
MAX_REASON = 1024


class Poster(Worker):
    def __init__(self, *, tx: Transactions, store: SettlementStore, clock: Clock, ledger: WalletLedger,
                 assets: AssetCatalog, policy: RetryPolicy, on_posted: Callable[[], None],
                 limits: BatchLimits = POST_LIMITS) -> None:
        super().__init__(log)
        self._tx = tx
        self._store = store
        self._clock = clock
        self._ledger = ledger
        self._assets = assets
        self._policy = policy
        self._on_posted = on_posted
        self._limits = limits
        # When the poster first saw the PENDING settlements it is lingering for (loop time).
        self._waiting_since: float | None = None
        # Batches being posted, and the settlements in them (left out of the next reads).
        self._posting: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()

    async def run(self) -> None:
        try:
            await super().run()
        finally:  # stopping: the batches in flight end too, before the store is closed
            for posting in self._posting:
                posting.cancel()
            await asyncio.gather(*self._posting, return_exceptions=True)

    async def _step(self) -> None:
        """Start posting a batch if one is due and ready and there is room; otherwise wait."""
        self._collect()
        if len(self._posting) >= MAX_IN_FLIGHT:
            await asyncio.wait(self._posting, return_when=asyncio.FIRST_COMPLETED)
            return
        loop = asyncio.get_running_loop()
        due = await self._due_ids()
        if not due:
            self._waiting_since = None
            # With batches in flight the next retry time may be one of theirs, due now: sleep
            # until a batch ends or new work arrives (both wake the poster) instead of spinning.
            await self._sleep(IDLE_SECS if self._posting else await self._idle_secs())
            return
        if self._waiting_since is None:
            self._waiting_since = loop.time()
        waited = loop.time() - self._waiting_since
        if not self._limits.ready(len(due), waited):
            await asyncio.sleep(self._limits.wait_left(waited))
            return
        self._waiting_since = None
        batch = await self._tx.read(lambda session: self._store.pending(session, due))
        if batch:
            self._start(batch)

    async def _due_ids(self) -> list[str]:
        """The next batch's ids: due settlements not already in a batch in flight. At most
        that many of the due ones are in flight, so reading that many more ids and leaving them
        out still finds a full batch when there is one."""
        limit = self._limits.max_count + len(self._in_flight)
        due = await self._tx.read(lambda session: self._store.due_ids(session, self._clock.now(), limit))
        return [settlement_id for settlement_id in due if settlement_id not in self._in_flight][:self._limits.max_count]

    def _start(self, batch: Sequence[Settlement]) -> None:
        ids = {s.settlement_id for s in batch}
        self._in_flight |= ids

        async def post() -> None:
            try:
                await self._post(batch)
            finally:  # its outcome is committed (or nothing is: then it is due again)
                self._in_flight -= ids
                self.wake()
        self._posting.add(asyncio.create_task(post()))

    def _collect(self) -> None:
        """Forget the finished batches; a batch's error is raised here, for `run` to handle as
        it handles its own (a store briefly gone: log and go on; anything else ends the loop)."""
        finished = [posting for posting in self._posting if posting.done()]
        self._posting.difference_update(finished)
        errors = [error for posting in finished if (error := posting.exception()) is not None]
        if errors:
            raise errors[0]

    async def _idle_secs(self) -> float:
        retry_at = await self._tx.read(self._store.next_retry_time)
        if retry_at is None:
            return IDLE_SECS
        return min(IDLE_SECS, max(0.0, (retry_at - self._clock.now()).total_seconds()))

    async def _post(self, batch: Sequence[Settlement]) -> None:
        # A trace per posted batch: the Wallet call and the store's statements beneath it.
        with _tracer.start_as_current_span("settlement post", attributes={"clearmesh.settlement_count": len(batch)}):
            await self._post_batch(batch)

    async def _post_batch(self, batch: Sequence[Settlement]) -> None:
        transfers: list[TradeTransfer] = []
        postable: list[Settlement] = []
        unpostable: dict[str, str] = {}
        for settlement in batch:
            try:
                postings = trade_postings(settlement.terms, settlement.charges, self._assets)
            except DomainError as error:  # e.g. the asset configuration changed since intake
                unpostable[settlement.settlement_id] = f"{error.reason}: {error.message}"
                continue
            transfers.append(TradeTransfer(transfer_id_for(settlement.trade), postings))
            postable.append(settlement)
        if unpostable:
            await self._record_failures(unpostable)
        if postable:
            await self._post_transfers(postable, transfers)

    async def _post_transfers(self, batch: Sequence[Settlement], transfers: Sequence[TradeTransfer]) -> None:
        try:
            await self._ledger.post(transfers)
        except DomainError as refusal:
            if is_transient(refusal.code) or len(batch) == 1:
                why = f"{refusal.reason}: {refusal.message}"
                log.warning("posting failed", extra={"fields": {"count": len(batch), "reason": why}})
                await self._record_failures({s.settlement_id: why for s in batch})
                return
            (first, second), (first_t, second_t) = halves(batch), halves(transfers)
            await self._post_transfers(first, first_t)
            await self._post_transfers(second, second_t)
            return
        ids = [s.settlement_id for s in batch]
        await self._tx.write(lambda session: self._store.mark_posted(session, ids, self._clock.now()))
        metrics.POSTED.inc(len(ids))
        self._on_posted()

    async def _record_failures(self, reasons: dict[str, str]) -> None:
        now = self._clock.now()

        async def work(session: AsyncSession) -> dict[str, Progress]:
            changes: dict[str, Progress] = {}
            for settlement in await self._store.locked(session, list(reasons)):
                if settlement.progress.state is State.PENDING:
                    changes[settlement.settlement_id] = attempt_failed(
                        settlement.progress, reasons[settlement.settlement_id][:MAX_REASON], now, self._policy)
            await self._store.save_progress(session, changes, now)
            return changes

        changes = await self._tx.write(work)
        gave_up = sum(progress.state is State.FAILED for progress in changes.values())
        metrics.GAVE_UP.inc(gave_up)
        metrics.RETRYING.inc(len(changes) - gave_up)
