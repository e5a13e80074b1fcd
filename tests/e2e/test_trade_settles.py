"""The whole trading path through real processes (`clearmesh serve` for each of the five
services), on SQLite (a file per service) and on PostgreSQL (one scratch database, a schema per
service): traders through KYC and funded, orders placed through Order, matched, every trade
settled from the holds and anchored, the holds released, the ledger reconciled.

One platform per database for the module (starting five processes is the slow part); each test
uses accounts of its own and reads the fee account as a difference."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from clearmesh.order.v1 import order_service_pb2 as order_pb
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.type.v1 import trading_pb2
from google.protobuf import json_format
from tests.conftest import POSTGRES_ADMIN_URL, _require
from tests.e2e.trading import AUCTION, CONTINUOUS, Platform, fee, notional, usdc
from tests.testkit.processes import eventually

from services.runtime import loop
from services.runtime.database import create_scratch_database, drop_scratch_database

BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
FILLED, OPEN, CANCELLED = trading_pb2.ORDER_STATE_FILLED, trading_pb2.ORDER_STATE_OPEN, trading_pb2.ORDER_STATE_CANCELLED
ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED
FEES = "system/fees"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    env: dict[str, str] = {}
    scratch = ""
    if request.param == "postgres":
        _require("PostgreSQL", "127.0.0.1", 5432)
        scratch = loop.run(create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_e2e"))
        env = {"DATABASE_URL": scratch, "CLEARMESH_MIGRATE_ON_START": "true"}
    running = Platform(tmp_path_factory.mktemp(f"platform-{request.param}"), env)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        if scratch:
            loop.run(drop_scratch_database(POSTGRES_ADMIN_URL, scratch))


def anchored_and_proven(platform: Platform, market: str, count: int, tmp_path: Path) -> None:
    """`count` trades on `market`, each with its settlement ANCHORED and a proof that
    `clearmesh verify-proof` accepts offline (the chain is the in-process VM of Settlement's
    process, which no other process can read)."""
    trades = eventually(lambda: platform.trades(market), lambda t: len(t) == count, f"{count} trades on {market}")
    for trade in trades:
        settlement = platform.anchored(trade)
        proof = platform.settlement.GetSettlementProof(
            settlement_pb.GetSettlementProofRequest(name=settlement.name), metadata=platform.operator)
        file = tmp_path / f"{settlement.name.replace('/', '_')}.json"
        file.write_text(json_format.MessageToJson(proof))
        verified = platform.processes.cli("verify-proof", str(file))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "proof verifies" in verified.stdout


def reconciled(platform: Platform) -> None:
    answer = platform.settlement.Reconcile(settlement_pb.ReconcileRequest(), metadata=platform.operator)
    assert list(answer.mismatches) == []
    cli = platform.processes.cli("reconcile")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert ", 0 mismatches" in cli.stdout


def test_crossing_orders_fill_settle_anchor_and_release_every_hold(platform: Platform, tmp_path: Path) -> None:
    alice = platform.trader("alice", {"USDC": "1000"})
    bob = platform.trader("bob", {"BTC": "2"})
    fees_before = platform.total(FEES, "USDC")
    # Bob rests two asks; Alice's buy, priced above both, takes them at their prices (two trades).
    # Every fee here rounds up, and Alice's fee on the whole fill is one unit less than her two
    # trades' fees rounded one by one: the fee rule is the order's, not the trade's.
    ask_low = platform.place(bob, CONTINUOUS, SELL, "99.00", "0.2013")
    ask_high = platform.place(bob, CONTINUOUS, SELL, "100.01", "0.3007")
    bid = platform.place(alice, CONTINUOUS, BUY, "101.00", "0.5020")

    filled = {name: eventually(partial(platform.get_order, name), lambda o: o.state == FILLED, f"{name} FILLED")
              for name in (ask_low.name, ask_high.name, bid.name)}
    assert Decimal(filled[bid.name].filled_quantity) == Decimal("0.502")
    # The volume-weighted price, as Matching reports it (to Decimal's 28 significant digits).
    vwap = (Decimal("99.00") * Decimal("0.2013") + Decimal("100.01") * Decimal("0.3007")) / Decimal("0.502")
    assert Decimal(filled[bid.name].average_price) == vwap
    assert (Decimal(filled[ask_low.name].filled_quantity), Decimal(filled[ask_low.name].average_price)) == (
        Decimal("0.2013"), Decimal("99.00"))
    assert (Decimal(filled[ask_high.name].filled_quantity), Decimal(filled[ask_high.name].average_price)) == (
        Decimal("0.3007"), Decimal("100.01"))

    anchored_and_proven(platform, CONTINUOUS, 2, tmp_path)

    bought = notional("99.00", "0.2013") + notional("100.01", "0.3007")
    buyer_fee = fee(bought)
    seller_fees = fee(notional("99.00", "0.2013")) + fee(notional("100.01", "0.3007"))
    # Each balance once the final releases ran: nothing held for anyone.
    eventually(lambda: platform.balances("accounts/alice"), lambda b: b["USDC"][1] == 0, "alice's hold released")
    assert platform.balances("accounts/alice") == {"USDC": (Decimal(1000) - usdc(bought + buyer_fee), Decimal(0)),
                                                   "BTC": (Decimal("0.502"), Decimal(0))}
    eventually(lambda: platform.balances("accounts/bob"), lambda b: b["BTC"][1] == 0, "bob's holds released")
    assert platform.balances("accounts/bob") == {"BTC": (Decimal("1.498"), Decimal(0)),
                                                 "USDC": (usdc(bought - seller_fees), Decimal(0))}
    assert platform.total(FEES, "USDC") - fees_before == usdc(buyer_fee + seller_fees)
    reconciled(platform)


def test_an_auction_fills_at_one_price_and_gives_every_unused_unit_back(platform: Platform, tmp_path: Path) -> None:
    limits = ("0.110", "0.120", "0.130", "0.140", "0.150")
    buyers = {limit: platform.trader(f"buyer-{index}", {"USDC": "10"}) for index, limit in enumerate(limits)}
    seller = platform.trader("seller", {"GRID": "10"})
    fees_before = platform.total(FEES, "USDC")
    bids = {limit: platform.place(caller, AUCTION, BUY, limit, "1") for limit, caller in buyers.items()}
    ask = platform.place(seller, AUCTION, SELL, "0.100", "4")

    ask_filled = eventually(lambda: platform.get_order(ask.name), lambda o: o.state == FILLED, "the ask FILLED")
    price = ask_filled.average_price
    # Price priority: the four highest bids fill, the lowest rests unfilled.
    for limit in limits[1:]:
        bid = eventually(partial(platform.get_order, bids[limit].name), lambda o: o.state == FILLED,
                         f"the bid at {limit} FILLED")
        assert (Decimal(bid.filled_quantity), bid.average_price) == (Decimal(1), price)
    unfilled = platform.get_order(bids[limits[0]].name)
    assert (unfilled.state, Decimal(unfilled.filled_quantity)) == (OPEN, Decimal(0))
    cancelled = platform.order.CancelOrder(order_pb.CancelOrderRequest(
        name=unfilled.name, request_id=platform.request_id()), metadata=buyers[limits[0]])
    assert cancelled.state == CANCELLED
    anchored_and_proven(platform, AUCTION, 4, tmp_path)
    trades = platform.trades(AUCTION)
    assert sorted((t.price, Decimal(t.quantity)) for t in trades) == [(price, Decimal(1))] * 4
    auctions = {t.auction for t in trades}
    assert len(auctions) == 1 and "" not in auctions  # all four from one clearing

    each = notional(price, "1")
    for index, limit in enumerate(limits):
        account = f"accounts/buyer-{index}"
        eventually(partial(platform.held, account, "USDC"), lambda held: held == 0, f"{account}'s hold released")
        spent = 0 if limit == limits[0] else each + fee(each)
        assert platform.total(account, "USDC") == Decimal(10) - usdc(spent), account
    assert platform.balances("accounts/seller") == {"GRID": (Decimal(6), Decimal(0)),
                                                    "USDC": (usdc(4 * each - fee(4 * each)), Decimal(0))}
    assert platform.total(FEES, "USDC") - fees_before == usdc(4 * fee(each) + fee(4 * each))
    reconciled(platform)
