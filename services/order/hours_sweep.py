"""The notional hours no placement reads any more, deleted now and then.

`order_notional_hours` gets a row per account and UTC hour in which it placed an order
(store.py, `_notional_since`), and a placement reads only the hours of its last 24: without a
sweep the table would grow by a day's active accounts × 24 every day, for good. Every
SWEEP_INTERVAL_SECS each Order process deletes the hours that ended more than KEEP_AFTER_WINDOW
before any window can start (replicas sweeping the same rows at once only delete them once)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from services.order.store import OrderStore, hour_of
from services.runtime.clock import Clock
from services.runtime.transactions import Transactions

log = logging.getLogger("clearmesh.order")

SWEEP_INTERVAL_SECS = 600.0
# Kept beyond the window: an hour for replicas whose clocks are a little apart.
KEEP_AFTER_WINDOW = timedelta(hours=1)


async def sweep_once(tx: Transactions, store: OrderStore, clock: Clock, window: timedelta) -> int:
    """Deletes the hours before the oldest any window can still reach; how many."""
    before = hour_of(clock.now() - window) - KEEP_AFTER_WINDOW
    return await tx.write(lambda session: store.sweep_hours(session, before))


async def sweep_forever(tx: Transactions, store: OrderStore, clock: Clock, window: timedelta,
                        interval_secs: float = SWEEP_INTERVAL_SECS) -> None:
    while True:
        try:
            await sweep_once(tx, store, clock, window)
        except Exception:  # a database hiccup must not end the sweep for the process's life
            log.exception("sweeping the notional hours failed")
        await asyncio.sleep(interval_secs)
