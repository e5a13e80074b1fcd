"""k8s/monitoring/: the alerting rules and the Grafana dashboard parse, read only metrics the
code exports, cover what an operator must be woken for and watch, and ship in every overlay."""

from __future__ import annotations

import pytest
import yaml
from tests.testkit.manifests import OVERLAYS, Document, find
from tests.testkit.metrics import (
    DASHBOARD,
    RULES,
    code_metric_names,
    dashboard,
    dashboard_queries,
    rules,
    selected_metrics,
)

# The alerts the production guide asks for, by name, with their severity.
ALERTS = {"OrderProcessingSlow": "warning", "HighErrorRate": "critical", "SettlementFailures": "critical",
          "SettlementLagging": "warning", "AuctionStalled": "critical"}
# The guide's panels, each with a metric it must read.
PANELS = {
    "Orders per minute": "market_orders_total",
    "Trades per minute": "market_trades_total",
    "Matching latency (p50, p99)": "market_matching_duration_seconds_bucket",
    "Settlement success rate": "settlement_outcomes_total",
    "Order book size": "market_order_book_size",
    "Spread": "market_spread",
    "Open streams": "grpc_server_open_streams",
    "API response time (p95)": "edge_http_request_duration_seconds_bucket",
}
QUERIES = [*[(f"alert {rule['alert']}", rule["expr"]) for rule in rules()],
           *[(f"panel {title}", expr) for title, expr in dashboard_queries()]]


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return code_metric_names()


@pytest.mark.parametrize(("where", "expression"), QUERIES, ids=[where for where, _ in QUERIES])
def test_each_query_parses_and_reads_only_metrics_the_code_exports(where: str, expression: str,
                                                                   exported: set[str]) -> None:
    selected = selected_metrics(expression)
    assert selected, f"{where} reads no metric"
    assert selected <= exported, f"{where} reads {sorted(selected - exported)}, which no code exports"


def test_a_query_naming_an_unknown_metric_or_broken_is_caught(exported: set[str]) -> None:
    assert not selected_metrics("rate(market_order_placed_total[5m])") <= exported
    with pytest.raises(ValueError):
        selected_metrics("sum(rate(market_trades_total[5m])")


def test_the_guide_alerts_exist_with_their_severity() -> None:
    assert {rule["alert"]: rule["labels"]["severity"] for rule in rules()
            if rule["alert"] in ALERTS} == ALERTS


def test_order_processing_and_error_rate_alerts_hold_for_five_minutes() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert by_name["OrderProcessingSlow"]["for"] == by_name["HighErrorRate"]["for"] == "5m"
    assert "PlaceOrder" in by_name["OrderProcessingSlow"]["expr"] and "> 0.1" in by_name["OrderProcessingSlow"]["expr"]
    assert "> 0.01" in by_name["HighErrorRate"]["expr"]


def test_every_alert_says_what_happened() -> None:
    assert all(rule["annotations"].get("summary") and rule["annotations"].get("description") for rule in rules())


def test_the_dashboard_has_the_guide_panels_each_reading_its_metric() -> None:
    panels = {panel["title"]: panel for panel in dashboard()["panels"]}
    for title, metric in PANELS.items():
        assert title in panels, f"no panel {title!r}"
        assert any(metric in selected_metrics(target["expr"]) for target in panels[title]["targets"]), title


def test_dashboard_panels_have_unique_ids_and_query_the_datasource_variable() -> None:
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert {target["datasource"]["uid"] for panel in panels for target in panel["targets"]} == {"${datasource}"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_ships_the_rules_and_the_dashboard_as_they_are(
        rendered: dict[str, list[Document]], overlay: str) -> None:
    rules_map = find(rendered[overlay], "ConfigMap", "clearmesh-prometheus-rules")
    dashboard_map = find(rendered[overlay], "ConfigMap", "clearmesh-grafana-dashboard")
    assert rules_map["metadata"]["namespace"] == dashboard_map["metadata"]["namespace"] == "monitoring"
    assert yaml.safe_load(rules_map["data"]["clearmesh.rules.yml"]) == yaml.safe_load(RULES.read_text())
    assert dashboard_map["data"]["clearmesh.json"] == DASHBOARD.read_text()
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
