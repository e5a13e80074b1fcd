"""The knobs of the rendered edge, defaulting to the Python edge's settings defaults.

The committed files are rendered from the defaults so ``--check`` is reproducible; a deployment
renders its own with ``--from-env`` (RATE_LIMIT_PER_MINUTE, RATE_LIMIT_BURST, CORS_ALLOWED_ORIGINS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.runtime.settings import DEFAULT_PORTS, EDGE_PORT, Settings


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    listen_port: int = EDGE_PORT
    admin_port: int = 9901
    # Local run (`clearmesh up`): each service on its own port of this host.
    upstream_host: str = "127.0.0.1"
    upstream_ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 100
    cors_allowed_origins: tuple[str, ...] = ()
    jwt_issuer: str = "clearmesh"
    jwt_audience: str = "clearmesh"
    # The JWKS comes from this environment variable at Envoy start (see gateway/envoy/jwks.py),
    # so the committed file holds no secret.
    jwks_env_var: str = "CLEARMESH_JWKS"
    unary_timeout_seconds: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeOptions:
        return cls(
            rate_limit_per_minute=settings.rate_limit_per_minute,
            rate_limit_burst=settings.rate_limit_burst,
            cors_allowed_origins=tuple(settings.cors_allowed_origins),
            jwt_issuer=settings.jwt_issuer,
            jwt_audience=settings.jwt_audience,
        )
