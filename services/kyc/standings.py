"""Each account's KYC standing (state and tier) as an eligibility check needs it: from the
cache (cache.py), else from the database, where the misses of concurrent checks (a
CheckEligibilities batch's, or concurrent CheckEligibility calls) are read together in one
statement (services/runtime/coalesce.py) instead of a read transaction each, which was most
of a check's CPU without Redis. A read starts after every check it answers was asked, so none
is answered from a read older than its own call."""

from __future__ import annotations

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

    async def _read_many(self, accounts: list[str]) -> list[KycStanding | BaseException | None]:
        async with self._tx.reading() as session:
            found = await self._store.standings(session, accounts)
        return [found.get(account) for account in accounts]
