"""The Reconcile RPC's legwork: gathers Matching's trades, this service's settlements and
batches, and the Wallet's fee-account entries, then lets `domain.reconciliation` compare.
Matching and the Wallet are read with the calling operator's own credentials (ListTrades and
ListEntries are operator reads; a service identity may not make them).

The fee account's entries name every transfer that charged a fee; a settled trade with no
fee (a zero fee rate) is looked for among its buyer's entries instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from functools import partial

import grpc

from clearmesh.matching.v1 import matching_service_pb2 as matching_pb, matching_service_pb2_grpc as matching_grpc
from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as wallet_pb, wallet_service_pb2_grpc as wallet_grpc
from services.runtime.errors import NotFound, Unavailable
from services.runtime.paging import MAX_PAGE_SIZE, every_page
from services.runtime.shards import MatchingShards
from services.runtime.transactions import Transactions
from services.settlement.domain.leaves import batch_root
from services.settlement.domain.reasons import SettlementReason
from services.settlement.domain.reconciliation import SETTLED, BatchCheck, LedgerFacts, Report, reconcile
from services.settlement.domain.settlement import Settlement, transfer_id_for
from services.settlement.store import SettlementStore
from services.wallet.domain import AssetCatalog, SystemAccount, to_units

PEER_TIMEOUT_SECS = 30.0
Metadata = tuple[tuple[str, str], ...]
TRANSFERS = "transfers/"


class Reconciler:
    def __init__(self, *, tx: Transactions, store: SettlementStore, assets: AssetCatalog,
                 matching: MatchingShards, wallet: Callable[[], grpc.aio.Channel]) -> None:
        self._tx = tx
        self._store = store
        self._assets = assets
        self._matching = matching
        self._wallet = wallet

    async def run(self, market: str | None, credentials: Metadata) -> Report:
        """The report; `credentials` (the operator's authorization) go with every read of a peer."""
        # Settlements first: each exists only after its trade, so the trades listed next cover
        # them all (a trade newer than the intake cursor may still lack its settlement).
        settlements = await self._tx.read(lambda session: self._store.of_market(session, market))
        try:
            trades = await self._trades(market, credentials)
            ledger = await self._ledger(settlements, credentials)
        except grpc.aio.AioRpcError as error:
            if market is not None and error.code() is grpc.StatusCode.NOT_FOUND:
                raise NotFound(SettlementReason.MARKET_NOT_FOUND, f"Matching has no market {market}",
                               metadata={"market": market}) from None
            raise Unavailable(SettlementReason.PEER_UNAVAILABLE, f"cannot read a peer service: {error.code().name}",
                              metadata={"status": error.code().name}) from None
        return reconcile(trades, settlements, ledger, await self._batches(market), check_fee_totals=market is None)

    async def _trades(self, market: str | None, credentials: Metadata) -> list[str]:
        markets = [market] if market is not None else await self._markets(credentials)
        names: list[str] = []
        for name in markets:
            stub = matching_grpc.MatchingServiceStub(self._matching.of(name))  # the market's shard
            async for page in every_page(partial(stub.ListTrades, timeout=PEER_TIMEOUT_SECS, metadata=credentials),
                                         matching_pb.ListTradesRequest(market=name, page_size=MAX_PAGE_SIZE)):
                names += [trade.name for trade in page.trades]
        return names

    async def _markets(self, credentials: Metadata) -> list[str]:
        """Every Matching shard's markets."""
        names: list[str] = []
        for channel in self._matching.every():
            stub = matching_grpc.MatchingServiceStub(channel)
            async for page in every_page(partial(stub.ListMarkets, timeout=PEER_TIMEOUT_SECS, metadata=credentials),
                                         matching_pb.ListMarketsRequest(page_size=MAX_PAGE_SIZE)):
                names += [market.name for market in page.markets]
        return names

    async def _ledger(self, settlements: list[Settlement], credentials: Metadata) -> LedgerFacts:
        fee_entries: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        transfers: set[str] = set()
        for entry in await self._entries(SystemAccount.FEES, credentials):
            transfer = entry.transfer.removeprefix(TRANSFERS)
            transfers.add(transfer)
            fee_entries[transfer][entry.asset] += to_units(self._assets[entry.asset], Decimal(entry.amount))
        unseen_buyers = {s.terms.buyer for s in settlements
                         if s.progress.state in SETTLED and transfer_id_for(s.trade) not in transfers}
        for buyer in sorted(unseen_buyers):
            entries = await self._entries(buyer, credentials)
            transfers.update(entry.transfer.removeprefix(TRANSFERS) for entry in entries)
        return LedgerFacts({t: dict(by_asset) for t, by_asset in fee_entries.items()}, frozenset(transfers))

    async def _entries(self, account: str, credentials: Metadata) -> list[wallet_pb2.Entry]:
        stub = wallet_grpc.WalletServiceStub(self._wallet())
        entries: list[wallet_pb2.Entry] = []
        async for page in every_page(partial(stub.ListEntries, timeout=PEER_TIMEOUT_SECS, metadata=credentials),
                                     wallet_pb.ListEntriesRequest(account=account, page_size=MAX_PAGE_SIZE)):
            entries += list(page.entries)
        return entries

    async def _batches(self, market: str | None) -> list[BatchCheck]:
        checks: list[BatchCheck] = []
        for batch in await self._tx.read(self._store.batches):
            batch_id = batch.batch_id
            members = await self._tx.read(lambda session: self._store.batch_members(session, batch_id))  # noqa: B023
            if market is not None and all(member.market != market for member in members):
                continue
            recomputed = batch_root(members, self._assets).hex() if members else ""
            checks.append(BatchCheck(batch.batch_id, batch.root_hex, recomputed, batch.leaf_count, len(members)))
        return checks
