"""Every metric the alert rules and the dashboard (k8s/monitoring/) read is served, live, on
the METRICS_PORT of some process of the platform: the five services and the REST edge, after
one trade has gone through them."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from clearmesh.type.v1 import trading_pb2
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.trading import CONTINUOUS, Platform
from tests.testkit.metrics import exported_names, monitored_metrics
from tests.testkit.processes import eventually


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("metrics"), metrics=True)
    try:
        running.start()
        running.processes.start_edge()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def traded(platform: Platform) -> Platform:
    """One trade on the continuous market, settled, and one REST call through the edge."""
    seller = platform.trader("metrics-seller", {"BTC": "1"})
    buyer = platform.trader("metrics-buyer", {"USDC": "1000"})
    platform.place(seller, CONTINUOUS, trading_pb2.SIDE_SELL, "100.00", "0.5")
    platform.place(buyer, CONTINUOUS, trading_pb2.SIDE_BUY, "100.00", "0.5")
    (header, value), = platform.processes.bearer("metrics-buyer")
    request = urllib.request.Request(f"{platform.processes.edge_url}/v1/markets", headers={header: value})
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200
    return platform


def sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and labels.items() <= found.labels.items():
                return float(found.value)
    return None


def test_every_monitored_metric_is_served_by_some_process(traded: Platform) -> None:
    processes = traded.processes
    served = set().union(*(exported_names(processes.scrape(name)) for name in processes.metrics_ports))
    assert monitored_metrics() - served == set()


def test_the_trade_shows_in_orders_trades_and_settlement(traded: Platform) -> None:
    processes = traded.processes
    order = processes.scrape("order")
    assert sample(order, "market_orders_total", {"market": "BTC-USDC", "side": "sell", "outcome": "open"}) == 1
    assert sample(order, "market_orders_total", {"market": "BTC-USDC", "side": "buy", "outcome": "filled"}) == 1
    assert sample(processes.scrape("matching"), "market_trades_total", {"market": "BTC-USDC"}) == 1
    eventually(lambda: sample(processes.scrape("settlement"), "settlement_outcomes_total", {"outcome": "posted"}),
               lambda posted: posted == 1, "the trade's settlement to be counted as posted")


def test_every_process_serves_its_calls_on_its_metrics_port(traded: Platform) -> None:
    processes = traded.processes
    # Order called KYC, Wallet and Matching: each counts what it served, Order what it made.
    assert sample(processes.scrape("order"), "grpc_client_handled_total",
                  {"grpc_service": "clearmesh.matching.v1.MatchingService", "grpc_method": "SubmitOrders",
                   "grpc_code": "OK"}) == 2
    assert sample(processes.scrape("edge"), "edge_http_requests_total",
                  {"method": "GET", "route": "/v1/markets", "status": "200"}) == 1
    # Settlement and Order follow Matching's streams: open on Matching while they run.
    open_streams = sample(processes.scrape("matching"), "grpc_server_open_streams",
                          {"grpc_method": "StreamTrades"})
    assert open_streams is not None and open_streams >= 1

