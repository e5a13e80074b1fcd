"""The runtime's metrics: calls served and made, by method and code; open server streams;
labelled children built once; the sampling loop outliving a failed sample."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY, Counter

from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.runtime.channels import dial
from services.runtime.errors import FailedPrecondition
from services.runtime.metrics import Children, method_labels, sample_forever
from services.runtime.server import ServiceRuntime, contract_spec

Bearer = Callable[..., tuple[tuple[str, str], ...]]
SERVICE = "clearmesh.matching.v1.MatchingService"


class Markets(pb_grpc.MatchingServiceServicer):
    """GetMarket refuses a halted market; StreamTrades stays open until `end` is set."""

    def __init__(self) -> None:
        self.end = asyncio.Event()

    async def GetMarket(self, request: pb.GetMarketRequest, context: Any) -> matching_pb2.Market:
        if request.name == "markets/halted":
            raise FailedPrecondition("MARKET_HALTED", "the market is halted")
        return matching_pb2.Market(name=request.name)

    async def StreamTrades(self, request: pb.StreamTradesRequest, context: Any) -> AsyncIterator[pb.StreamTradesResponse]:
        yield pb.StreamTradesResponse(trade=matching_pb2.Trade(sequence=1))
        await self.end.wait()


def spec(servicer: Markets) -> Any:
    async def build(_runtime: ServiceRuntime) -> Markets:
        return servicer

    return contract_spec("matching", pb, pb_grpc, "MatchingService", build=build)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_call_made_through_a_service_channel_is_counted_and_timed_by_method_and_code(
        serve: Any, bearer: Bearer) -> None:
    labels = {"grpc_service": SERVICE, "grpc_method": "GetMarket", "grpc_code": "FAILED_PRECONDITION"}
    made, timed = value("grpc_client_handled_total", **labels), value("grpc_client_handling_seconds_count", **labels)
    served = value("grpc_server_handled_total", **labels)
    async with serve(spec(Markets())) as running:
        token = bearer(account="a")[0][1].removeprefix("Bearer ")
        channel = dial(f"127.0.0.1:{running.port}", lambda: token, 1 << 20)
        with pytest.raises(grpc.aio.AioRpcError):
            await pb_grpc.MatchingServiceStub(channel).GetMarket(pb.GetMarketRequest(name="markets/halted"))
        await channel.close()
    assert value("grpc_client_handled_total", **labels) == made + 1
    assert value("grpc_client_handling_seconds_count", **labels) == timed + 1
    assert value("grpc_server_handled_total", **labels) == served + 1


async def test_a_server_stream_is_open_until_it_ends(serve: Any, bearer: Bearer) -> None:
    servicer = Markets()
    labels = {"grpc_service": SERVICE, "grpc_method": "StreamTrades"}
    before = value("grpc_server_open_streams", **labels)
    async with serve(spec(servicer)) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stream = pb_grpc.MatchingServiceStub(channel).StreamTrades(
                pb.StreamTradesRequest(market="markets/A"), metadata=bearer(account="a"))
            await stream.read()
            assert value("grpc_server_open_streams", **labels) == before + 1
            servicer.end.set()
            assert await stream.read() is grpc.aio.EOF
    assert value("grpc_server_open_streams", **labels) == before


def test_a_labelled_child_is_built_once_per_label_set() -> None:
    counter = Counter("probe_children_total", "a probe", ["method"], registry=None)
    built: list[str] = []

    def labels_of(key: str) -> tuple[str]:
        built.append(key)
        return (key.upper(),)

    children: Children[str] = Children(counter, labels_of)
    for key in ("get", "get", "put", "get"):
        children(key).inc()
    assert built == ["get", "put"]
    assert (counter.labels("GET")._value.get(), counter.labels("PUT")._value.get()) == (3, 1)


@pytest.mark.parametrize("method", ["/pkg.Service/Method", b"/pkg.Service/Method"])
def test_a_method_path_splits_into_its_service_and_name(method: str | bytes) -> None:
    assert method_labels(method) == ("pkg.Service", "Method")


async def test_the_sampling_loop_goes_on_after_a_failed_sample() -> None:
    samples: list[int] = []
    done = asyncio.Event()

    async def sample() -> None:
        samples.append(len(samples))
        if len(samples) == 1:
            raise ConnectionError("the database blinked")
        done.set()

    loop = asyncio.ensure_future(sample_forever(sample, "probe", every_secs=0))
    await asyncio.wait_for(done.wait(), timeout=5)
    loop.cancel()
    assert len(samples) >= 2  # sampled again after the failure
