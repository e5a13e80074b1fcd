"""One load run from start to figures: traders set up, the flow sent, lag followed, figures made.
`clearmesh load` and bench/mesh.py both run this."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from services.load.accounts import bearer, prepare_traders
from services.load.drivers import Driver
from services.load.flow import DEFAULT_MARKETS, Flow, Mix
from services.load.grpc_driver import GrpcDriver
from services.load.lag import LagProbe
from services.load.report import figures
from services.load.rest_driver import RestDriver
from services.load.runner import Plan, Run
from services.runtime.auth import TokenIssuer


@dataclass(frozen=True)
class Target:
    """Where the mesh answers."""

    order_addr: str
    matching_addr: str
    wallet_addr: str
    kyc_addr: str
    settlement_addr: str
    edge_host: str
    edge_port: int


class Meter(Protocol):
    """Told when the flow starts and when it has ended (bench/mesh.py reads each process's CPU
    then): the traders' setup and the lag probe's last follow-up are left out."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def driver_for(transport: str, target: Target) -> Driver:
    if transport == "grpc":
        return GrpcDriver(target.order_addr)
    if transport == "rest":
        return RestDriver(target.edge_host, target.edge_port)
    raise ValueError(f"unknown transport {transport!r}: grpc or rest")


async def run_load(issuer: TokenIssuer, target: Target, *, transport: str, traders: int, plan: Plan,
                   seed: int, mix: Mix | None = None, show: Callable[[str], None] | None = None,
                   meter: Meter | None = None) -> dict[str, Any]:
    """Set up `traders` new traders, run the plan's flow over `transport`; the run's figures."""
    prefix = f"load-{uuid.uuid4().hex[:8]}-"  # new accounts each run: an account has one applicant
    if show:
        show(f"setting up {traders} traders (KYC tier 2, funded) ...")
    accounts = await prepare_traders(issuer, target.kyc_addr, target.wallet_addr, prefix, traders)
    operator = bearer(issuer.mint(account="clearmesh-load", roles=("operator",)))
    probe = LagProbe(target.matching_addr, target.settlement_addr, operator, [m.name for m in DEFAULT_MARKETS])
    await probe.start()
    driver = driver_for(transport, target)
    run = Run(driver, accounts, Flow(seed, traders, mix or Mix()), replace(plan, run_id=prefix + "r"))
    try:
        if meter:
            meter.start()
        elapsed = await run.run(show)
        if meter:
            meter.stop()
    finally:
        await driver.close()
        await probe.stop()
    run.samples.lag_ms.extend(probe.lags_ms)
    run.samples.lag_given_up = probe.given_up
    run.samples.lag_errors.update(probe.errors)
    return figures(run.samples, elapsed, transport, plan.rate)
