"""Who is calling, and may they call this method.

Identity is a JWT bearer token: `sub` is the account id, `roles` holds "trader"/"operator".
Services call each other with a service token (`svc` claim) locally, or are known by their
mTLS peer principal in the mesh. What each method allows is declared in the contract, as the
`clearmesh.type.v1.access` method option, so the proto stays the single source of truth.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import jwt
from google.protobuf.descriptor import ServiceDescriptor

from clearmesh.type.v1 import access_pb2
from services.runtime.errors import PermissionDenied, Unauthenticated

ALGORITHM = "HS256"
ROLE_TRADER = "trader"
ROLE_OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user account with roles, or a service."""

    account: str | None = None
    roles: frozenset[str] = frozenset()
    service: str | None = None

    @property
    def account_name(self) -> str:
        """`accounts/{id}` for a user; empty for a service."""
        return f"accounts/{self.account}" if self.account else ""

    @property
    def is_operator(self) -> bool:
        return ROLE_OPERATOR in self.roles

    def owns(self, account_name: str) -> bool:
        return bool(self.account) and account_name == self.account_name


@dataclass(frozen=True)
class AccessRule:
    roles: frozenset[str] = field(default_factory=frozenset)
    services: frozenset[str] = field(default_factory=frozenset)

    def allows(self, principal: Principal) -> bool:
        if principal.service is not None:
            return principal.service in self.services
        return bool(self.roles & principal.roles)


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being served; set by the auth interceptor before the servicer runs."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("UNAUTHENTICATED", "no authenticated caller")
    return principal


def bind_principal(principal: Principal) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def access_rules(services: Iterable[ServiceDescriptor]) -> dict[str, AccessRule]:
    """Full method path (`/pkg.Service/Method`) → rule, from the contracts' method options."""
    rules: dict[str, AccessRule] = {}
    for service in services:
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(access_pb2.access):  # type: ignore[arg-type]  # .pyi: extension as FieldDescriptor
                continue  # no rule: the interceptor denies it (fail closed)
            rule: access_pb2.AccessRule = options.Extensions[access_pb2.access]  # type: ignore[index]  # .pyi: extension as FieldDescriptor
            rules[f"/{service.full_name}/{method.name}"] = AccessRule(
                frozenset(rule.roles), frozenset(rule.services))
    return rules


class TokenIssuer:
    """Mints and verifies HS256 tokens with the platform secret."""

    def __init__(self, secret: str, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds

    def mint(self, *, account: str | None = None, roles: Iterable[str] = (),
             service: str | None = None, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, object] = {"iss": self._issuer, "aud": self._audience,
                                     "iat": issued, "exp": issued + self._ttl}
        if service is not None:
            claims["sub"] = f"services/{service}"
            claims["svc"] = service
        else:
            claims["sub"] = account
            claims["roles"] = sorted(roles)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=self._issuer,
                                audience=self._audience, options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", "the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("INVALID_TOKEN", f"the token is invalid: {exc}") from None
        if "svc" in claims:
            return Principal(service=str(claims["svc"]))
        roles = claims.get("roles", [])
        if not isinstance(roles, list):
            raise Unauthenticated("INVALID_TOKEN", "the token's roles claim is not a list")
        return Principal(account=str(claims["sub"]), roles=frozenset(map(str, roles)))


def mesh_service_identity(xfcc: str) -> str | None:
    """The calling service from Envoy's x-forwarded-client-cert (`...;URI=spiffe://td/ns/N/sa/SVC`)."""
    for element in xfcc.split(","):
        for pair in element.split(";"):
            key, _, value = pair.partition("=")
            if key.strip().lower() == "uri" and "/sa/" in value:
                return value.strip().strip('"').rsplit("/sa/", 1)[1] or None
    return None


def authenticate(metadata: Mapping[str, str], issuer: TokenIssuer, *, trust_mesh: bool) -> Principal:
    """The caller named by the request metadata, or Unauthenticated."""
    header = metadata.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("INVALID_TOKEN", "authorization must be 'Bearer <token>'")
        return issuer.verify(token.strip())
    if trust_mesh and (service := mesh_service_identity(metadata.get("x-forwarded-client-cert", ""))):
        return Principal(service=service)
    raise Unauthenticated("UNAUTHENTICATED", "a bearer token is required")


def authorize(method: str, principal: Principal, rules: Mapping[str, AccessRule]) -> None:
    rule = rules.get(method)
    if rule is None:
        raise PermissionDenied("METHOD_NOT_ALLOWED", f"{method} allows no caller")
    if not rule.allows(principal):
        who = f"service {principal.service}" if principal.service else "this caller's roles"
        raise PermissionDenied("PERMISSION_DENIED", f"{who} may not call {method}",
                               metadata={"method": method})
