"""Bearer JWT verification at the edge; the token then travels on unchanged to the services.

Locally tokens are HS256 with JWT_SECRET (the runtime's TokenIssuer, the very check the
services run). In production they are RS256, verified against a JWKS (CLEARMESH_JWKS: an
https URL through PyJWT's PyJWKClient, or a file). Either way exp, iss and aud are checked and
only the one expected algorithm is accepted, so ``alg: none`` never verifies.

A verified token is remembered until its own ``exp`` so the hot path does not redo the
signature check on every request of a client that reuses its token.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import jwt

from gateway.edge.errors import Unauthenticated
from services.runtime.auth import TokenIssuer, bearer_token, token_issuer
from services.runtime.errors import DomainError
from services.runtime.jwks import ALGORITHM as RS256, JwksKeys
from services.runtime.settings import Settings

_CACHE_LIMIT = 10_000


class TokenVerifier(Protocol):
    async def subject(self, token: str) -> tuple[str, float]:
        """The token's subject and expiry (epoch seconds); raises Unauthenticated."""


class SecretVerifier:
    """HS256 with the platform secret, through the runtime's TokenIssuer."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self._issuer = issuer

    async def subject(self, token: str) -> tuple[str, float]:
        try:
            principal = self._issuer.verify(token)
        except DomainError as exc:
            raise Unauthenticated(exc.reason, exc.message) from None
        # Verified above; read exp without a second signature check.
        expiry = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        return principal.account or f"services/{principal.service}", expiry


class JwksVerifier:
    """RS256 against the runtime's JWKS keys (a URL fetched and cached, or a file)."""

    def __init__(self, keys: JwksKeys, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience

    async def subject(self, token: str) -> tuple[str, float]:
        try:
            # A cache miss fetches over the network: keep it off the event loop.
            key = await asyncio.to_thread(self._keys.key_for, token)
            claims = jwt.decode(token, key, algorithms=[RS256], issuer=self._issuer,
                                audience=self._audience, options={"require": ["exp", "sub"]})
        except DomainError as exc:
            raise Unauthenticated(exc.reason, exc.message) from None
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", "the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("INVALID_TOKEN", f"the token is invalid: {exc}") from None
        return str(claims["sub"]), float(claims["exp"])


def verifier_for(settings: Settings) -> TokenVerifier:
    if settings.jwks_url:
        return JwksVerifier(JwksKeys(settings.jwks_url), issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return SecretVerifier(token_issuer(settings))


class Authenticator:
    """``Authorization`` header → subject, with verified tokens remembered until they expire."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier
        self._verified: dict[str, tuple[str, float]] = {}

    async def subject(self, authorization: str | None) -> str:
        try:
            token = bearer_token(authorization or "")
        except DomainError as exc:
            raise Unauthenticated(exc.reason, exc.message) from None
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        subject, expiry = await self._verifier.subject(token)
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()  # crude but bounded; a miss only costs one verification
        self._verified[token] = (subject, expiry)
        return subject
