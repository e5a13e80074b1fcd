"""Who is calling, and may they call this method.

Identity is a JWT bearer token: `sub` is the account id, `roles` holds "trader"/"operator".
Services call each other with a service token (`svc` claim) locally, or are known by their
mTLS peer principal in the mesh. In production users' tokens may instead be RS256, signed by an
identity provider whose keys are a JWKS (services/runtime/jwks.py): the services then accept
exactly what the edge accepts. Service tokens stay HS256 with the platform secret. What each method allows is declared in the contract, as the
`clearmesh.type.v1.access` method option, so the proto stays the single source of truth.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import jwt
from google.protobuf.descriptor import ServiceDescriptor

from clearmesh.type.v1 import access_pb2
from services.runtime.errors import PermissionDenied, Unauthenticated
from services.runtime.jwks import ALGORITHM as JWKS_ALGORITHM, JwksKeys
from services.runtime.settings import Settings, ensure_jwt_secret

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


# Verified HS256 tokens remembered per process. Every call between services carries the same
# service token for hours, and so does a busy trader's client: checking its signature again on
# every call was a visible share of each hop's CPU (bench/order.py --spy). The claims of a token
# signed with our secret cannot change, so only its expiry is checked again on each use.
VERIFIED_CACHE_SIZE = 4096


class VerifiedTokens:
    """HS256 tokens already verified, with the principal and the expiry each one names."""

    def __init__(self, size: int = VERIFIED_CACHE_SIZE, clock: Callable[[], float] = time.time) -> None:
        self._size = size
        self._clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str) -> Principal | None:
        """The token's principal if it was verified and has not expired since; else None."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, expires = entry
        if self._clock() >= expires:
            del self._entries[token]
            return None
        return principal

    def put(self, token: str, principal: Principal, expires: float) -> None:
        if len(self._entries) >= self._size:
            self._entries.clear()  # a bound, not an LRU: refilling costs one verification each
        self._entries[token] = (principal, expires)


class TokenIssuer:
    """Mints and verifies HS256 tokens with the platform secret; with `jwks`, also verifies
    users' RS256 tokens against the identity provider's keys."""

    def __init__(self, secret: str, *, issuer: str, audience: str, ttl_seconds: int,
                 jwks: JwksKeys | None = None) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._jwks = jwks
        self._verified = VerifiedTokens()

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
        # The header only picks which check runs; each check allows its one algorithm, so an
        # HS256 token "signed" with the public RSA key, or `alg: none`, never verifies.
        signed_by_provider = self._jwks is not None and _header_algorithm(token) == JWKS_ALGORITHM
        if not signed_by_provider and (known := self._verified.get(token)) is not None:
            return known
        try:
            if self._jwks is not None and signed_by_provider:
                claims = jwt.decode(token, self._jwks.key_for(token), algorithms=[JWKS_ALGORITHM],
                                    issuer=self._issuer, audience=self._audience,
                                    options={"require": ["exp", "sub"]})
            else:
                claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=self._issuer,
                                    audience=self._audience, options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", "the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("INVALID_TOKEN", f"the token is invalid: {exc}") from None
        if "svc" in claims:
            if signed_by_provider:
                # The identity provider speaks for users; only the platform secret names services.
                raise Unauthenticated("INVALID_TOKEN", "a service identity cannot come from the JWKS")
            principal = Principal(service=str(claims["svc"]))
        else:
            roles = claims.get("roles", [])
            if not isinstance(roles, list):
                raise Unauthenticated("INVALID_TOKEN", "the token's roles claim is not a list")
            principal = Principal(account=str(claims["sub"]), roles=frozenset(map(str, roles)))
        if not signed_by_provider:
            # Only ours: a provider's token stays checked against its current keys every time.
            self._verified.put(token, principal, float(claims["exp"]))
        return principal


def _header_algorithm(token: str) -> str | None:
    try:
        return jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        return None  # the HS256 check below reports it


def token_issuer(settings: Settings, *, jwks: JwksKeys | None = None) -> TokenIssuer:
    """The platform's issuer: JWT_SECRET (or the data directory's generated secret), the
    configured issuer and audience, tokens living JWT_EXPIRATION_HOURS; with `jwks`, users'
    RS256 tokens from the identity provider verify too."""
    return TokenIssuer(ensure_jwt_secret(settings), issuer=settings.jwt_issuer,
                       audience=settings.jwt_audience,
                       ttl_seconds=settings.jwt_expiration_hours * 3600, jwks=jwks)


def mesh_service_identity(xfcc: str) -> str | None:
    """The calling service from Envoy's x-forwarded-client-cert (`...;URI=spiffe://td/ns/N/sa/SVC`)."""
    for element in xfcc.split(","):
        for pair in element.split(";"):
            key, _, value = pair.partition("=")
            if key.strip().lower() == "uri" and "/sa/" in value:
                return value.strip().strip('"').rsplit("/sa/", 1)[1] or None
    return None


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header (the services' and the edge's
    one reading of it), or Unauthenticated."""
    if not authorization:
        raise Unauthenticated("UNAUTHENTICATED", "a bearer token is required")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("INVALID_TOKEN", "authorization must be 'Bearer <token>'")
    return token


def authenticate(metadata: Mapping[str, str], issuer: TokenIssuer, *, trust_mesh: bool) -> Principal:
    """The caller named by the request metadata, or Unauthenticated."""
    header = metadata.get("authorization", "")
    if header:
        return issuer.verify(bearer_token(header))
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
