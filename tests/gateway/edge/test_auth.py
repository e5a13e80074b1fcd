"""Bearer JWTs at the edge: RS256 against a JWKS (file or URL) in production, HS256 with
JWT_SECRET locally (the contract cases); exp, iss, aud checked; alg none and algorithm
confusion refused; the token reaches the services unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.edge.auth import Authenticator, JwksVerifier
from gateway.edge.errors import Unauthenticated
from services.runtime.jwks import JwksKeys
from tests.testkit.identity import Provider, key_set, rsa_key

ISSUER = AUDIENCE = "clearmesh"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture(scope="module")
def jwks(signing_key: rsa.RSAPrivateKey) -> str:
    return key_set(signing_key, "k1")


@pytest.fixture(scope="module")
def jwks_file(jwks: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(jwks)
    return path


@pytest.fixture(scope="module")
def jwks_url(jwks: str) -> Iterator[str]:
    with Provider(jwks).serving() as provider:
        yield provider.url


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "roles": ["trader"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
            **overrides}


def _rs256(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), key, algorithm="RS256", headers={"kid": "k1"})


def _verifier(source: str | Path) -> JwksVerifier:
    return JwksVerifier(JwksKeys(str(source)), issuer=ISSUER, audience=AUDIENCE)


async def test_an_rs256_token_signed_by_a_jwks_file_key_verifies(jwks_file: Path, signing_key) -> None:
    subject, expiry = await _verifier(jwks_file).subject(_rs256(signing_key))
    assert subject == "alice"
    assert expiry > time.time()


async def test_an_rs256_token_verifies_against_a_jwks_url(jwks_url: str, signing_key) -> None:
    subject, _ = await _verifier(jwks_url).subject(_rs256(signing_key))
    assert subject == "alice"


async def test_a_token_signed_by_another_key_is_refused(jwks_file: Path) -> None:
    with pytest.raises(Unauthenticated) as refused:
        await _verifier(jwks_file).subject(_rs256(rsa_key()))
    assert refused.value.reason == "INVALID_TOKEN"


@pytest.mark.parametrize("claims", [{"exp": int(time.time()) - 60}, {"iss": "someone"}, {"aud": "other"}],
                         ids=["expired", "wrong-issuer", "wrong-audience"])
async def test_exp_iss_and_aud_are_checked(jwks_file: Path, signing_key, claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated):
        await _verifier(jwks_file).subject(_rs256(signing_key, **claims))


async def test_alg_none_is_refused(jwks_file: Path) -> None:
    unsigned = jwt.encode(_claims(), "", algorithm="none", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        await _verifier(jwks_file).subject(unsigned)


async def test_an_hs256_token_is_refused_when_keys_are_rs256(jwks_file: Path, jwks: str) -> None:
    """Algorithm confusion: the public key used as an HMAC secret must not verify."""
    forged = jwt.encode(_claims(), "a-shared-secret-long-enough-for-hmac-sha256!", algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        await _verifier(jwks_file).subject(forged)


async def test_a_verified_token_is_not_verified_again_until_it_expires() -> None:
    calls: list[str] = []

    class Counting:
        async def subject(self, token: str) -> tuple[str, float]:
            calls.append(token)
            return "alice", time.time() + 60

    authenticator = Authenticator(Counting())
    for _ in range(3):
        assert await authenticator.subject("Bearer t1") == "alice"
    assert calls == ["t1"]


async def test_a_remembered_token_is_verified_again_once_expired() -> None:
    calls: list[str] = []

    class ShortLived:
        async def subject(self, token: str) -> tuple[str, float]:
            calls.append(token)
            return "alice", time.time() - 1

    authenticator = Authenticator(ShortLived())
    await authenticator.subject("Bearer t1")
    await authenticator.subject("Bearer t1")
    assert calls == ["t1", "t1"]


def test_the_edge_in_jwks_mode_admits_rs256_and_forwards_the_token_unchanged(stack, jwks_file: Path, signing_key) -> None:
    url, _ = stack.start_edge(stack.upstream_settings(jwks_url=str(jwks_file)))
    admitted = httpx.get(f"{url}/v1/settlements/s-1", headers={"authorization": f"Bearer {_rs256(signing_key)}"})
    # The services verify with their own HS256 secret here, so the forwarded RS256 token is
    # refused by the SERVICE (domain clearmesh.io): proof it passed the edge and arrived as sent.
    assert admitted.status_code == 401
    assert admitted.json()["details"][0]["domain"] == "clearmesh.io"
    refused = httpx.get(f"{url}/v1/settlements/s-1", headers={"authorization": f"Bearer {stack.token()}"})
    assert refused.status_code == 401
    assert refused.json()["details"][0]["domain"] == "gateway.clearmesh"
