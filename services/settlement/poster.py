"""Posting: PENDING settlements go to the Wallet in batches and become POSTED together.

Each trade's transfer id is the trade's name, so a batch posted twice (a crash between the
Wallet's commit and ours, a lost answer) posts nothing twice. A refused batch is narrowed
down by halves (`domain.batching`) so one bad trade fails alone; a transient failure counts
one attempt for every settlement in the batch, which then waits its backoff
(`SETTLEMENT_RETRY_DELAY_SECS` × 2^(attempt − 1)); the last allowed failure makes it FAILED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import Clock
from services.runtime.errors import DomainError
from services.runtime.transactions import Transactions
from services.settlement.domain.batching import BatchLimits, halves, is_transient
from services.settlement.domain.charges import trade_postings
from services.settlement.domain.settlement import Settlement, transfer_id_for
from services.settlement.domain.states import Progress, RetryPolicy, State, attempt_failed
from services.settlement.ledger import TradeTransfer, WalletLedger
from services.settlement.store import SettlementStore
from services.settlement.worker import Worker
from services.wallet.domain import AssetCatalog

log = logging.getLogger("clearmesh.settlement.poster")

POST_LIMITS = BatchLimits(max_count=500, max_wait_secs=0.005)
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

    async def _step(self) -> None:
        """Post a batch if one is due and ready; otherwise wait for one."""
        loop = asyncio.get_running_loop()
        due = await self._tx.read(lambda session: self._store.due(session, self._clock.now(), self._limits.max_count))
        if not due:
            self._waiting_since = None
            await self._sleep(await self._idle_secs())
            return
        if self._waiting_since is None:
            self._waiting_since = loop.time()
        waited = loop.time() - self._waiting_since
        if not self._limits.ready(len(due), waited):
            await asyncio.sleep(self._limits.wait_left(waited))
            return
        self._waiting_since = None
        await self._post(due)

    async def _idle_secs(self) -> float:
        retry_at = await self._tx.read(self._store.next_retry_time)
        if retry_at is None:
            return IDLE_SECS
        return min(IDLE_SECS, max(0.0, (retry_at - self._clock.now()).total_seconds()))

    async def _post(self, batch: Sequence[Settlement]) -> None:
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
        self._on_posted()

    async def _record_failures(self, reasons: dict[str, str]) -> None:
        now = self._clock.now()

        async def work(session: AsyncSession) -> None:
            changes: dict[str, Progress] = {}
            for settlement in await self._store.locked(session, list(reasons)):
                if settlement.progress.state is State.PENDING:
                    changes[settlement.settlement_id] = attempt_failed(
                        settlement.progress, reasons[settlement.settlement_id][:MAX_REASON], now, self._policy)
            await self._store.save_progress(session, changes, now)

        await self._tx.write(work)
