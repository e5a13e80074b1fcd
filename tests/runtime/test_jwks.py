"""The identity provider's keys (services/runtime/jwks.py): from a URL, cached and refreshed so a
rotated key is picked up; from a file; RSA keys only."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.testkit.identity import Provider, key_set, rs256_token, rsa_key

from services.runtime.errors import Unauthenticated, Unavailable
from services.runtime.jwks import JwksKeys


@pytest.fixture(scope="module")
def first_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def provider(first_key: rsa.RSAPrivateKey) -> Iterator[Provider]:
    with Provider(key_set(first_key, "k1")).serving() as running:
        yield running


def test_the_signing_key_is_found_by_its_kid_at_the_url(provider: Provider, first_key: rsa.RSAPrivateKey) -> None:
    assert JwksKeys(provider.url).key_for(rs256_token(first_key, "k1")).key_id == "k1"


def test_a_rotated_key_is_used_once_the_set_is_refreshed(provider: Provider, first_key: rsa.RSAPrivateKey) -> None:
    keys = JwksKeys(provider.url)
    keys.key_for(rs256_token(first_key, "k1"))
    second = rsa_key()
    provider.key_set = key_set(second, "k2")
    keys.refresh()
    assert keys.key_for(rs256_token(second, "k2")).key_id == "k2"


def test_a_key_set_that_cannot_be_fetched_refuses_the_token(first_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/jwks.json"
    keys = JwksKeys(closed)
    with pytest.raises(Unauthenticated) as refused:
        keys.key_for(rs256_token(first_key, "k1"))
    assert refused.value.reason == "INVALID_TOKEN"
    with pytest.raises(Unavailable):
        keys.refresh()


def test_a_file_is_read_once_and_needs_no_refresh(tmp_path: Path, first_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(key_set(first_key, "k1"))
    keys = JwksKeys(f"file://{path}")
    assert not keys.fetched
    assert keys.key_for(rs256_token(first_key, "k1")).key_id == "k1"


def test_a_symmetric_key_in_the_set_is_never_used(tmp_path: Path) -> None:
    secret = base64.urlsafe_b64encode(b"s" * 32).rstrip(b"=").decode()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": secret}]}))
    token = jwt.encode({"sub": "mallory"}, b"s" * 32, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        JwksKeys(str(path)).key_for(token)
