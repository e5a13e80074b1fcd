"""Each account's KYC standing (state and tier) as an eligibility check needs it: from the
cache (cache.py), else from the database, where the misses of concurrent checks (a
CheckEligibilities batch's, or concurrent CheckEligibility calls) are read together in one
statement (services/runtime/coalesce.py) instead of a read transaction each, which was most
of a check's CPU without Redis. A read starts after every check it answers was asked, so none
is answered from a read older than its own call.

A CheckEligibilities batch asks for its accounts at once (`get_many`): one look in the cache
and one read of the misses, with no coalescing to go through. The read is one statement, run
outside a transaction (`Transactions.read_alone`; on SQLite on the driver, store.py): a read
transaction's ORM session cost more CPU than the statement."""

from __future__ import annotations

from collections.abc import Sequence

from services.kyc.cache import StandingCache
from services.kyc.domain import KycStanding
from services.kyc.store import KycStore
from services.runtime.coalesce import Coalescer
from services.runtime.transactions import Transactions


class Standings:
    def __init__(self, store: KycStore, tx: Transactions, cache: StandingCache) -> None:
        self._store = store
        self._tx = tx
        self._cache = cache
        self._reads: Coalescer[str, KycStanding | None] = Coalescer(self._read_many)

    async def get(self, account: str) -> KycStanding | None:
        """The account's standing; None if it has no applicant."""
        cached = await self._cache.get(account)
        if cached is not None:
            return cached.standing
        standing = await self._reads.call(account)
        await self._cache.put(account, standing)
        return standing

    async def get_many(self, accounts: Sequence[str]) -> dict[str, KycStanding | None]:
        """Each account's standing (None: no applicant), by account; the misses read together."""
        known = await self._cache.get_many(accounts)
        standings = {account: cached.standing for account, cached in known.items()}
        misses = sorted({account for account in accounts if account not in standings})
        if misses:
            found = await self._read(misses)
            read = {account: found.get(account) for account in misses}
            await self._cache.put_many(read)
            standings |= read
        return standings

    async def _read_many(self, accounts: list[str]) -> list[KycStanding | BaseException | None]:
        found = await self._read(accounts)
        return [found.get(account) for account in accounts]

    async def _read(self, accounts: list[str]) -> dict[str, KycStanding]:
        return await self._tx.read_alone(lambda connection: self._store.standings(connection, accounts))
