"""A stand-in identity provider for tests: RSA keys, their JWKS, RS256 tokens, and a JWKS
endpoint over real HTTP whose key set a test can rotate."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_set(key: rsa.RSAPrivateKey, kid: str) -> str:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return json.dumps({"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]})


def rs256_token(key: rsa.RSAPrivateKey, kid: str) -> str:
    return jwt.encode({"sub": "alice"}, key, algorithm="RS256", headers={"kid": kid})


class Provider:
    """An identity provider's JWKS endpoint whose key set a test can rotate."""

    def __init__(self, key_set: str) -> None:
        self.key_set = key_set
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = provider.key_set.encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    @contextmanager
    def serving(self) -> Iterator[Provider]:
        """The endpoint answering on `url` (a daemon thread) until the block ends."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            self.server.shutdown()
