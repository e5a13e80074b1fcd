"""Turn the platform's HS256 secret (JWT_SECRET) into the JWKS Envoy's jwt_authn needs.

Envoy verifies HS256 only against a JWKS "oct" key whose `k` is the base64url secret. Run

    CLEARMESH_JWKS="$(python -m gateway.envoy.jwks)" envoy -c gateway/envoy/envoy.yaml

so the secret lives in the environment, never in the committed config.
"""

from __future__ import annotations

import base64
import json

from services.runtime.settings import Settings, ensure_jwt_secret


def jwks_for_secret(secret: str) -> str:
    key = base64.urlsafe_b64encode(secret.encode("utf-8")).rstrip(b"=").decode("ascii")
    return json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": key}]})


def main() -> None:
    print(jwks_for_secret(ensure_jwt_secret(Settings())))


if __name__ == "__main__":
    main()
