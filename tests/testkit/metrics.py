"""Reading Prometheus metrics as a scraper sees them: the names an exposition offers, the
names the code can export, and the alert rules and dashboard of k8s/monitoring/."""

from __future__ import annotations

import importlib
import json
from typing import Any

import promql_parser
import yaml
from prometheus_client import REGISTRY, generate_latest

from tests.testkit.manifests import K8S, REPO_ROOT

MONITORING = K8S / "monitoring"
RULES = MONITORING / "alerts.rules.yml"
DASHBOARD = MONITORING / "dashboard.json"
# The series a histogram and a counter family expose besides (or instead of) the family's name.
SERIES_OF = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count"), "counter": ("_total",)}


def exported_names(exposition: str) -> set[str]:
    """Every series name a query may select from this text exposition, samples or not (a
    labelled metric no call has touched yet shows only its `# TYPE` line)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            names.update(name.removesuffix("_total") + suffix if kind == "counter" else name + suffix
                          for suffix in SERIES_OF.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def code_metric_names() -> set[str]:
    """The names every metrics module of the code registers (services/*/metrics.py, the
    runtime's, the edge's)."""
    from gateway.edge.metrics import EdgeMetrics

    for path in sorted((REPO_ROOT / "services").glob("*/metrics.py")):
        importlib.import_module(f"services.{path.parent.name}.metrics")
    text = generate_latest(REGISTRY).decode() + EdgeMetrics().render().decode()
    return exported_names(text)


def rules() -> list[dict[str, Any]]:
    """Every alerting rule of the rule file, each with its group's name under `group`."""
    document = yaml.safe_load(RULES.read_text())
    return [{**rule, "group": group["name"]} for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel."""
    return [(panel["title"], target["expr"]) for panel in dashboard()["panels"] for target in panel["targets"]]


def selected_metrics(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (raises ValueError when it does not parse)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


def monitored_metrics() -> set[str]:
    """Every metric the alert rules and the dashboard read."""
    expressions = [rule["expr"] for rule in rules()] + [expr for _, expr in dashboard_queries()]
    return set().union(*(selected_metrics(expression) for expression in expressions))
