"""The services `clearmesh serve` and `clearmesh up` know."""

from __future__ import annotations

import importlib

from services.runtime.server import ServiceSpec

SERVICE_NAMES: tuple[str, ...] = ("kyc", "wallet", "matching", "order", "settlement")
# The port order of docs/architecture.md (order 50051 … settlement 50055, metrics 9091 … 9095).
UP_ORDER: tuple[str, ...] = ("order", "matching", "wallet", "kyc", "settlement")


def load_spec(name: str) -> ServiceSpec:
    if name not in SERVICE_NAMES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    spec: ServiceSpec = importlib.import_module(f"services.{name}.service").SPEC
    return spec
