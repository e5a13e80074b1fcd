"""`clearmesh load` against the whole mesh as real processes (SQLite): over gRPC and over REST
it sets up its traders, shows its progress while it runs, and ends with its figures, the
last line one JSON object."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.e2e.trading import SERVICES
from tests.testkit.processes import Processes

FIGURES = {"place_per_sec", "place_p50_ms", "place_p95_ms", "place_p99_ms", "settlement_lag_p50_ms",
           "settlement_lag_p99_ms", "placed", "place_errors", "states"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    processes = Processes(tmp_path_factory.mktemp("load-cli"), (*SERVICES, "edge"),
                          {"CLEARMESH_LOG_LEVEL": "WARNING", "MATCHING_INTERVAL_MS": "200"})
    try:
        processes.start_all((*SERVICES, "edge"))
        yield processes
    finally:
        processes.stop_all()


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_load_places_orders_shows_progress_and_ends_with_its_figures_as_json(mesh: Processes, transport: str) -> None:
    done = mesh.cli("load", "--transport", transport, "--traders", "4", "--workers", "4", "--duration", "3")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= FIGURES
    assert result["transport"] == transport
    assert result["placed"] > 0 and result["place_per_sec"] > 0
    assert result["place_errors"] == {}
    assert 0 < result["place_p50_ms"] <= result["place_p99_ms"]
    assert result["lag_samples"] > 0 and result["settlement_lag_p99_ms"] > 0
    assert "placed" in done.stderr and "setting up 4 traders" in done.stderr  # the progress lines
    assert "PlaceOrder/s" in done.stdout
    assert result["latency_from"] == "send" and result["kept_up"] is None  # a closed loop: no rate to keep up with


def test_load_at_a_rate_says_what_it_offered_and_times_calls_from_when_they_were_due(mesh: Processes) -> None:
    done = mesh.cli("load", "--traders", "4", "--workers", "4", "--rate", "20", "--duration", "2")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["offered_per_sec"] == 20.0 and result["latency_from"] == "due time"
    assert isinstance(result["kept_up"], bool)  # whether it did depends on the machine: not asserted
    assert result["place_calls"] + result["cancels"] <= 40  # nothing is sent after its window
    assert "offered 20.0 actions/s" in done.stdout
