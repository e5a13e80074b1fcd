"""The settlement service as the runtime starts it: the RPCs, and three kinds of background
work — intake (a follower per market), the poster and the anchorer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from clearmesh.settlement.v1 import settlement_service_pb2, settlement_service_pb2_grpc

from services.runtime.assets import parse_asset_config
from services.runtime.metrics import sample_forever
from services.runtime.server import ServiceRuntime, ServiceSpec, contract_spec
from services.runtime.settings import Settings
from services.settlement.anchorer import Anchorer
from services.settlement.api import SettlementServicer
from services.settlement.chain import Chain, open_chain
from services.settlement.chain.traced import TracedChain
from services.settlement.domain.states import RetryPolicy
from services.settlement.intake import Intake
from services.settlement.ledger import WalletLedger
from services.settlement.metrics import backlog_sampler
from services.settlement.poster import Poster
from services.settlement.reconcile import Reconciler
from services.settlement.store import SettlementStore
from services.settlement.wire import Wire

log = logging.getLogger("clearmesh.settlement")


def settlement_spec(chain_for: Callable[[Settings], Chain] = open_chain) -> ServiceSpec:
    """The service, anchoring to the chain `chain_for` opens (tests pass a chain that fails)."""

    async def build(runtime: ServiceRuntime) -> SettlementServicer:
        settings = runtime.settings
        # The Wallet's asset table: fees are charged at the quote asset's precision.
        assets = parse_asset_config(settings.assets)
        tx, store, clock = runtime.transactions, SettlementStore(), runtime.clock
        chain = TracedChain(chain_for(settings))
        runtime.on_close(chain.close)
        log.info("anchoring settlement batches", extra={"fields": {"chain": chain.description}})
        anchorer = Anchorer(tx=tx, store=store, clock=clock, chain=chain, assets=assets)
        poster = Poster(
            tx=tx, store=store, clock=clock, ledger=WalletLedger(lambda: runtime.channel("wallet"), assets),
            assets=assets, on_posted=anchorer.wake,
            policy=RetryPolicy(settings.settlement_retry_attempts, settings.settlement_retry_delay_secs))
        intake = Intake(tx=tx, store=store, clock=clock, matching=runtime.matching,
                        assets=assets, fee_rate=settings.settlement_fee_rate, spawn=runtime.spawn,
                        on_intake=poster.wake)
        runtime.spawn(intake.run(), "settlement intake")
        runtime.spawn(poster.run(), "settlement poster")
        runtime.spawn(anchorer.run(), "settlement anchorer")
        runtime.spawn(sample_forever(backlog_sampler(tx, store, clock), "settlement backlog"), "settlement metrics")
        reconciler = Reconciler(tx=tx, store=store, assets=assets, matching=runtime.matching,
                                wallet=lambda: runtime.channel("wallet"))
        return SettlementServicer(tx=tx, store=store, clock=clock, wire=Wire(assets), poster=poster,
                                  reconciler=reconciler, fee_rate=settings.settlement_fee_rate)

    return contract_spec(
        "settlement", settlement_service_pb2, settlement_service_pb2_grpc, "SettlementService",
        build=build, migrations=Path(__file__).resolve().parent / "migrations")


SPEC = settlement_spec()
