"""Anchoring: POSTED settlements are gathered into batches whose Merkle root is written on
Solana (one memo transaction per batch); then each becomes ANCHORED with the batch's root,
signature and slot, and its leaf's position in the batch.

The ledger has settled by then; anchoring only makes the record tamper-evident. So a chain
that is down or slow leaves settlements POSTED and the anchorer tries again (doubling its
wait up to `MAX_BACKOFF_SECS`); nothing else waits for it. A batch is stored only after the
chain confirmed its memo, in one transaction with its settlements' state change.
"""

from __future__ import annotations

import logging

from opentelemetry import trace

from services.runtime.backoff import Backoff
from services.runtime.clock import Clock
from services.runtime.errors import DeadlineExceeded, Unavailable
from services.runtime.transactions import Transactions
from services.settlement import metrics
from services.settlement.chain import Chain
from services.settlement.domain.batching import BatchLimits
from services.settlement.domain.leaves import batch_root
from services.settlement.domain.merkle import memo_for_root
from services.settlement.domain.settlement import Settlement
from services.settlement.store import SettlementStore
from services.settlement.worker import Worker
from services.wallet.domain import AssetCatalog

log = logging.getLogger("clearmesh.settlement.anchorer")
_tracer = trace.get_tracer("clearmesh.settlement")

ANCHOR_LIMITS = BatchLimits(max_count=256, max_wait_secs=1.0)
IDLE_SECS = 1.0
FIRST_BACKOFF_SECS = 0.5
MAX_BACKOFF_SECS = 30.0


class Anchorer(Worker):
    def __init__(self, *, tx: Transactions, store: SettlementStore, clock: Clock, chain: Chain,
                 assets: AssetCatalog, limits: BatchLimits = ANCHOR_LIMITS) -> None:
        super().__init__(log)
        self._tx = tx
        self._store = store
        self._clock = clock
        self._chain = chain
        self._assets = assets
        self._limits = limits
        self._backoff = Backoff(FIRST_BACKOFF_SECS, MAX_BACKOFF_SECS)

    async def _step(self) -> None:
        """Anchor a batch if one is ready; otherwise wait for one."""
        # The backlog's size and age first (one row): the poster wakes the anchorer after every
        # batch it posts, and most wakes find a batch that is not ready yet.
        count, oldest = await self._tx.read(lambda session: self._store.posted_backlog(
            session, self._limits.max_count))
        if oldest is None:
            await self._sleep(IDLE_SECS)
            return
        waited = (self._clock.now() - oldest).total_seconds()
        if not self._limits.ready(count, waited):
            await self._sleep(self._limits.wait_left(waited))
            return
        batch = await self._tx.read(lambda session: self._store.posted(session, self._limits.max_count))
        if not batch:  # anchored meanwhile (another replica)
            return
        # A trace per anchored batch: the chain call and the store's statements beneath it.
        with _tracer.start_as_current_span("settlement anchor", attributes={"clearmesh.settlement_count": len(batch)}):
            await self._anchor(batch)

    async def _anchor(self, batch: list[Settlement]) -> None:
        root = batch_root(batch, self._assets)
        try:
            anchor = await self._chain.anchor(memo_for_root(root))
        except (Unavailable, DeadlineExceeded) as error:
            log.warning("anchoring failed; settlements stay POSTED and it is tried again",
                        extra={"fields": {"reason": error.reason, "count": len(batch), "retryIn": self._backoff.delay}})
            await self._backoff.wait()
            return
        self._backoff.reset()
        leaves = [settlement.settlement_id for settlement in batch]
        # Confirmed on chain first, recorded after: a crash in between anchors the batch again
        # later (another memo with the same root), never records a root that is not on chain.
        await self._tx.write(lambda session: self._store.record_batch(
            session, root.hex(), anchor.signature, anchor.slot, leaves, self._clock.now()))
        metrics.ANCHORED.inc(len(leaves))
        log.info("anchored a batch", extra={"fields": {"count": len(leaves), "root": root.hex(),
                                                       "signature": anchor.signature, "slot": anchor.slot}})
