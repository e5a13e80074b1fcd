"""Group commit for PlaceHold and ReleaseHold: concurrent calls share one write transaction.

Like Matching's journal writer: calls queue up while the previous group's transaction is in
flight; one task takes everything that has arrived (up to MAX_GROUP) and applies it in one
transaction (`WalletStore.apply_hold_group`), so one commit serves many orders. Every caller
gets its own answer or its own error (`domain/hold_groups.py`): one order short of funds does
not fail the others. A group whose transaction fails (the database is unreachable) fails each
of its callers with that error; nothing of it was written.

One writer per process; several Wallet processes stay correct because the transaction locks
the rows it touches (see `services/runtime/transactions.py`).
"""

from __future__ import annotations

import asyncio

from services.runtime.errors import Unavailable
from services.wallet.domain import HoldStatus
from services.wallet.domain.hold_groups import HoldCommand, Outcome
from services.wallet.store import WalletStore

# Bounds one transaction's statements and row locks; the Order service's bursts fit many times.
MAX_GROUP = 500

Pending = tuple[HoldCommand, "asyncio.Future[HoldStatus]"]


class HoldWriter:
    def __init__(self, store: WalletStore) -> None:
        self.store = store
        self._pending: list[Pending] = []
        self._arrived = asyncio.Event()

    async def apply(self, command: HoldCommand) -> HoldStatus:
        """The hold as `command` leaves it, once its group has committed; or the command's error."""
        return await self.submit(command)

    def submit(self, command: HoldCommand) -> asyncio.Future[HoldStatus]:
        """`apply`'s future, for a caller with many commands to wait for together (PlaceHolds):
        a plain function, so a batch needs no coroutine or task per command."""
        future: asyncio.Future[HoldStatus] = asyncio.get_running_loop().create_future()
        self._pending.append((command, future))
        self._arrived.set()
        return future

    async def run(self) -> None:
        """Commit groups until cancelled (the runtime's shutdown); then fail whatever still waits."""
        group: list[Pending] = []
        try:
            while True:
                if not self._pending:
                    self._arrived.clear()
                    await self._arrived.wait()
                    continue
                group = self._pending[:MAX_GROUP]
                del self._pending[:MAX_GROUP]
                await self._commit(group)
        finally:
            # Shut down mid-commit: its callers learn nothing certain; a retry is answered
            # either way (a hold is idempotent by id, and so is releasing all of it).
            for _, future in group + self._pending:
                if not future.done():
                    future.set_exception(Unavailable("WALLET_STOPPING", "the wallet is shutting down; retry"))

    async def _commit(self, group: list[Pending]) -> None:
        # A caller that gave up (cancelled) is left out: it never learns the outcome, and a
        # retry of its command is answered either way (holds are idempotent by id).
        live = [(command, future) for command, future in group if not future.done()]
        if not live:
            return
        commands = [command for command, _ in live]
        try:
            outcomes = await self.store.tx.write(lambda session: self.store.apply_hold_group(session, commands))
        except Exception as error:  # noqa: BLE001 - each caller gets it, as if its call had run alone
            for _, future in live:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), outcome in zip(live, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[HoldStatus], outcome: Outcome) -> None:
    if future.done():  # cancelled while its group was committing
        return
    if isinstance(outcome, HoldStatus):
        future.set_result(outcome)
    else:
        future.set_exception(outcome)
