"""A service accepts what the edge accepts: users' RS256 tokens signed by a key in the JWKS
(CLEARMESH_JWKS), and still HS256 with the platform secret; forged or foreign tokens are
refused UNAUTHENTICATED with reason INVALID_TOKEN. Served over a real socket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as pb_grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tests.testkit.identity import Provider, key_set

from services.runtime.auth import TokenIssuer, current_principal
from services.runtime.server import ServiceRuntime, contract_spec
from services.runtime.settings import Settings

KID = "provider-1"


class WhoAmI(pb_grpc.MatchingServiceServicer):
    """GetMarket answers with the caller's account as the base asset."""

    async def GetMarket(self, request: pb.GetMarketRequest, context: Any) -> matching_pb2.Market:
        return matching_pb2.Market(name=request.name, base_asset=current_principal().account or "")


async def _build(_runtime: ServiceRuntime) -> WhoAmI:
    return WhoAmI()


SPEC = contract_spec("matching", pb, pb_grpc, "MatchingService", build=_build)


@pytest.fixture(scope="module")
def provider_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_file(provider_key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider_key.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}))
    return path


@pytest.fixture
async def stub(serve: Any, settings: Settings, jwks_file: Path) -> AsyncIterator[pb_grpc.MatchingServiceStub]:
    async with (serve(SPEC, settings.model_copy(update={"jwks_url": str(jwks_file)})) as running,
                grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel):
        yield pb_grpc.MatchingServiceStub(channel)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "roles": ["trader"], "iss": "clearmesh", "aud": "clearmesh",
            "iat": now, "exp": now + 600, **overrides}


def _rs256(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), key, algorithm="RS256", headers={"kid": KID})


async def _caller(stub: pb_grpc.MatchingServiceStub, token: str) -> str:
    market = await stub.GetMarket(pb.GetMarketRequest(name="markets/GRID-USDC"),
                                  metadata=(("authorization", f"Bearer {token}"),))
    return market.base_asset


async def _refusal(stub: pb_grpc.MatchingServiceStub, token: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _caller(stub, token)
    status = rpc_status.from_call(raised.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    next(detail for detail in status.details if detail.Is(info.DESCRIPTOR)).Unpack(info)
    return raised.value.code(), info.reason


async def test_a_service_accepts_an_rs256_token_signed_by_a_key_in_the_jwks(
        stub: pb_grpc.MatchingServiceStub, provider_key: rsa.RSAPrivateKey) -> None:
    assert await _caller(stub, _rs256(provider_key)) == "alice"


async def test_hs256_with_the_platform_secret_still_verifies_beside_the_jwks(
        stub: pb_grpc.MatchingServiceStub, issuer: TokenIssuer) -> None:
    assert await _caller(stub, issuer.mint(account="bob", roles=["trader"])) == "bob"


async def test_an_rs256_token_signed_by_another_key_is_refused(stub: pb_grpc.MatchingServiceStub) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await _refusal(stub, _rs256(stranger)) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_an_rs256_token_for_another_audience_is_refused(
        stub: pb_grpc.MatchingServiceStub, provider_key: rsa.RSAPrivateKey) -> None:
    token = _rs256(provider_key, aud="elsewhere")
    assert await _refusal(stub, token) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_an_rs256_token_from_another_issuer_is_refused(
        stub: pb_grpc.MatchingServiceStub, provider_key: rsa.RSAPrivateKey) -> None:
    token = _rs256(provider_key, iss="https://elsewhere.example")
    assert await _refusal(stub, token) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_an_unsigned_alg_none_token_is_refused(stub: pb_grpc.MatchingServiceStub) -> None:
    forged = jwt.encode(_claims(roles=["operator"]), key="", algorithm="none", headers={"kid": KID})
    assert await _refusal(stub, forged) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_an_hs256_token_forged_with_the_public_key_is_refused(
        stub: pb_grpc.MatchingServiceStub, provider_key: rsa.RSAPrivateKey) -> None:
    # Algorithm confusion: the public key (which anyone can read from the JWKS) used as an HMAC secret.
    public_pem = provider_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims(roles=["operator"])).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    forged = b".".join((header, body, signature)).decode()
    assert await _refusal(stub, forged) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_a_service_identity_is_never_taken_from_a_provider_token(
        stub: pb_grpc.MatchingServiceStub, provider_key: rsa.RSAPrivateKey) -> None:
    token = _rs256(provider_key, sub="services/order", svc="order")
    assert await _refusal(stub, token) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_a_service_fetches_the_jwks_from_a_url(serve: Any, settings: Settings,
                                                     provider_key: rsa.RSAPrivateKey) -> None:
    with Provider(key_set(provider_key, KID)).serving() as provider:
        async with (serve(SPEC, settings.model_copy(update={"jwks_url": provider.url})) as running,
                    grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel):
            assert await _caller(pb_grpc.MatchingServiceStub(channel), _rs256(provider_key)) == "alice"
