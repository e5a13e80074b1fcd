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
from pathlib import Path
from typing import Protocol

import jwt

from gateway.edge.errors import Unauthenticated
from services.runtime.auth import TokenIssuer, bearer_token, token_issuer
from services.runtime.errors import DomainError
from services.runtime.settings import Settings

RS256 = "RS256"
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
    """RS256 against a JWKS URL (fetched and cached by PyJWKClient) or a JWKS file."""

    def __init__(self, source: str, *, issuer: str, audience: str) -> None:
        self._issuer = issuer
        self._audience = audience
        self._client: jwt.PyJWKClient | None = None
        self._keys: list[jwt.PyJWK] = []  # a JWKS file's keys; a URL's are the client's
        if source.startswith(("http://", "https://")):
            self._client = jwt.PyJWKClient(source, cache_jwk_set=True, lifespan=300)
        else:
            self._keys = jwt.PyJWKSet.from_json(Path(source.removeprefix("file://")).read_text()).keys

    async def _key(self, token: str) -> jwt.PyJWK:
        if self._client is not None:
            # A cache miss fetches over the network: keep it off the event loop.
            return await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys:
            if kid is None or key.key_id == kid:
                return key
        raise Unauthenticated("INVALID_TOKEN", f"no key {kid!r} in the JWKS")

    async def subject(self, token: str) -> tuple[str, float]:
        try:
            key = await self._key(token)
            claims = jwt.decode(token, key, algorithms=[RS256], issuer=self._issuer,
                                audience=self._audience, options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", "the token has expired") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise Unauthenticated("INVALID_TOKEN", f"the token is invalid: {exc}") from None
        return str(claims["sub"]), float(claims["exp"])


def verifier_for(settings: Settings) -> TokenVerifier:
    if settings.jwks_url:
        return JwksVerifier(settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
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
