"""The services `clearmesh serve` and `clearmesh up` know, in start-up order (dependencies
first, so a caller's peers are up before it)."""

from __future__ import annotations

import importlib

from services.runtime.server import ServiceSpec

SERVICE_NAMES: tuple[str, ...] = ("kyc", "wallet", "matching", "order", "settlement")


def load_spec(name: str) -> ServiceSpec:
    if name not in SERVICE_NAMES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    spec: ServiceSpec = importlib.import_module(f"services.{name}.service").SPEC
    return spec
