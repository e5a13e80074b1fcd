"""Tokens and access rules, without a server."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from services.runtime.auth import (AccessRule, Principal, TokenIssuer, VerifiedTokens, access_rules,
                                   authenticate, authorize, mesh_service_identity, token_issuer)
from services.runtime.errors import PermissionDenied, Unauthenticated
from services.registry import SERVICE_NAMES, load_spec
from services.runtime.settings import Settings


def test_a_user_token_names_the_account_and_its_roles(issuer: TokenIssuer) -> None:
    principal = issuer.verify(issuer.mint(account="alice", roles=["trader", "operator"]))
    assert principal == Principal(account="alice", roles=frozenset({"trader", "operator"}))
    assert principal.account_name == "accounts/alice"


def test_a_service_token_names_the_service_and_no_account(issuer: TokenIssuer) -> None:
    assert issuer.verify(issuer.mint(service="order")) == Principal(service="order")


def test_an_expired_token_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.mint(account="alice", roles=["trader"], now=1_000_000)
    with pytest.raises(Unauthenticated) as raised:
        issuer.verify(token)
    assert raised.value.reason == "TOKEN_EXPIRED"


@pytest.mark.parametrize("elsewhere", [
    {"jwt_secret": SecretStr("another-secret-" + "y" * 32)},
    {"jwt_audience": "elsewhere"},
    {"jwt_issuer": "someone-else"},
])
def test_a_token_of_another_secret_audience_or_issuer_is_refused(settings: Settings, issuer: TokenIssuer,
                                                                 elsewhere: dict[str, object]) -> None:
    foreign = token_issuer(settings.model_copy(update=elsewhere))
    with pytest.raises(Unauthenticated) as raised:
        issuer.verify(foreign.mint(account="mallory", roles=["operator"]))
    assert raised.value.reason == "INVALID_TOKEN"


def test_an_unsigned_alg_none_token_is_refused(issuer: TokenIssuer) -> None:
    forged = jwt.encode({"sub": "mallory", "roles": ["operator"], "exp": 9_999_999_999,
                         "iss": "clearmesh", "aud": "clearmesh"}, key="", algorithm="none")
    with pytest.raises(Unauthenticated):
        issuer.verify(forged)


def test_a_request_without_authorization_is_unauthenticated(issuer: TokenIssuer) -> None:
    with pytest.raises(Unauthenticated):
        authenticate({}, issuer, trust_mesh=False)


def test_a_non_bearer_authorization_is_unauthenticated(issuer: TokenIssuer) -> None:
    with pytest.raises(Unauthenticated):
        authenticate({"authorization": "Basic YWxpY2U6cHc="}, issuer, trust_mesh=False)


def test_the_mesh_peer_identity_counts_only_when_trusted(issuer: TokenIssuer) -> None:
    xfcc = {"x-forwarded-client-cert": 'By=spiffe://cluster.local/ns/cm/sa/wallet;'
                                       'Hash=abc;URI=spiffe://cluster.local/ns/cm/sa/order'}
    assert authenticate(xfcc, issuer, trust_mesh=True) == Principal(service="order")
    with pytest.raises(Unauthenticated):
        authenticate(xfcc, issuer, trust_mesh=False)


def test_mesh_identity_is_the_service_account_of_the_uri() -> None:
    assert mesh_service_identity("URI=spiffe://cluster.local/ns/x/sa/settlement") == "settlement"
    assert mesh_service_identity("Hash=abc") is None


def test_a_method_without_a_rule_allows_nobody() -> None:
    with pytest.raises(PermissionDenied):
        authorize("/pkg.Svc/Unruled", Principal(account="a", roles=frozenset({"operator"})), {})


def test_a_role_rule_admits_users_with_the_role_and_no_service() -> None:
    rule = {"/m": AccessRule(roles=frozenset({"operator"}))}
    authorize("/m", Principal(account="op", roles=frozenset({"operator"})), rule)
    with pytest.raises(PermissionDenied):
        authorize("/m", Principal(account="t", roles=frozenset({"trader"})), rule)
    with pytest.raises(PermissionDenied):
        authorize("/m", Principal(service="order"), rule)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_rpc_of_every_contract_declares_who_may_call_it(service: str) -> None:
    descriptor = load_spec(service).descriptor
    rules = access_rules([descriptor])
    assert {f"/{descriptor.full_name}/{m.name}" for m in descriptor.methods} == set(rules)
    assert all(rule.roles or rule.services for rule in rules.values())


def test_without_jwt_secret_processes_sharing_a_data_dir_accept_each_others_tokens(tmp_path: Path) -> None:
    minted = token_issuer(Settings(CLEARMESH_DATA_DIR=tmp_path)).mint(service="order")
    assert token_issuer(Settings(CLEARMESH_DATA_DIR=tmp_path)).verify(minted) == Principal(service="order")


def test_the_platform_issuer_lives_as_long_as_jwt_expiration_hours(tmp_path: Path) -> None:
    issuer = token_issuer(Settings(CLEARMESH_DATA_DIR=tmp_path, jwt_secret="s" * 40, jwt_expiration_hours=2))
    claims = jwt.decode(issuer.mint(account="alice"), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2 * 3600


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    now = [1_000.0]
    verified = VerifiedTokens(clock=lambda: now[0])
    verified.put("token", Principal(service="order"), expires=1_060.0)
    assert verified.get("token") == Principal(service="order")
    now[0] = 1_060.0
    assert verified.get("token") is None


def test_a_token_verified_before_is_still_refused_after_its_expiry(issuer: TokenIssuer) -> None:
    short = TokenIssuer("the-secret-" + "z" * 32, issuer="clearmesh", audience="clearmesh", ttl_seconds=1)
    token = short.mint(service="order")
    assert short.verify(token) == Principal(service="order")
    time.sleep(1.05)  # exp is whole seconds: at most one second after minting
    with pytest.raises(Unauthenticated) as raised:
        short.verify(token)
    assert raised.value.reason == "TOKEN_EXPIRED"


def test_a_token_altered_after_a_genuine_one_was_verified_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.mint(account="alice", roles=["trader"])
    issuer.verify(token)
    signature = token.rsplit(".", 1)[1]
    forged = jwt.encode({**jwt.decode(token, options={"verify_signature": False}), "roles": ["operator"]},
                        "not-the-secret-" + "q" * 32, algorithm="HS256")
    with pytest.raises(Unauthenticated) as raised:
        issuer.verify(f"{forged.split('.')[0]}.{forged.split('.')[1]}.{signature}")
    assert raised.value.reason == "INVALID_TOKEN"
