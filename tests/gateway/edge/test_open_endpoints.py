"""/healthz, /metrics and /openapi.json: open to anyone, and each says what it should."""

from __future__ import annotations


import httpx

from gateway.descriptor import load_descriptor_set
from gateway.transcode import Transcoder
from tests.testkit.net import free_port


def test_healthz_is_503_with_per_service_detail_when_one_service_is_down(stack) -> None:
    url, _ = stack.start_edge(stack.upstream_settings(settlement_addr=f"127.0.0.1:{free_port()}"))
    response = httpx.get(f"{url}/healthz", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "NOT_SERVING"
    assert body["services"]["settlement"] == "UNAVAILABLE"
    assert body["services"]["wallet"] == "SERVING"


def test_a_service_that_is_down_answers_503_with_a_status_body(stack, auth) -> None:
    url, _ = stack.start_edge(stack.upstream_settings(settlement_addr=f"127.0.0.1:{free_port()}"))
    response = httpx.get(f"{url}/v1/settlements/s-1", headers=auth(), timeout=10)
    assert response.status_code == 503
    assert response.json()["code"] == 14


def test_metrics_count_requests_by_route_template_and_status(stack, auth) -> None:
    url, _ = stack.start_edge()
    httpx.get(f"{url}/v1/settlements/s-1", headers=auth())
    httpx.get(f"{url}/v1/settlements/s-2", headers=auth())
    text = httpx.get(f"{url}/metrics").text
    assert 'edge_http_requests_total{method="GET",route="/v1/{name=settlements/*}",status="403"} 2.0' in text
    assert "edge_http_request_duration_seconds_bucket" in text


def test_openapi_has_one_operation_per_binding_and_none_for_internal_rpcs(edge: str) -> None:
    document = httpx.get(f"{edge}/openapi.json").json()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()
                  if isinstance(op, dict) and "operationId" in op}
    routes = Transcoder.from_descriptor_set(load_descriptor_set()).rules.routes
    assert len(operations) == len(routes)
    assert "OrderService_PlaceOrder" in operations
    assert not any(name.endswith(("_PostTransfer", "_PlaceHold", "_SubmitOrder")) for name in operations)
    assert document["security"] == [{"bearerAuth": []}]


def test_a_fault_inside_the_edge_is_a_500_status_body_not_a_traceback(stack, auth) -> None:
    url, app = stack.start_edge()

    def broken(_route: object, _request: object = None) -> object:
        raise RuntimeError("a bug")

    app.upstreams.unary = broken
    response = httpx.get(f"{url}/v1/settlements/s-1", headers=auth())
    assert response.status_code == 500
    assert response.json() == {"code": 13, "message": "internal error", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "INTERNAL", "domain": "gateway.clearmesh"}]}
