"""The public keys that sign users' tokens in production: RS256 from a JWKS (CLEARMESH_JWKS).

One home for the key resolution the edge and every service share, so both accept exactly the
same tokens. The source is an https URL, fetched by PyJWT's PyJWKClient and cached (a token
whose `kid` is not cached refetches the set, which is how a rotated key is picked up), or a
file (`file://` optional), read once. Only RSA keys are used: a symmetric (`oct`) key in a
JWKS would let anyone who can read the set mint tokens, so it is never looked up.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import jwt

from services.runtime.errors import Unauthenticated, Unavailable

log = logging.getLogger("clearmesh.jwks")

ALGORITHM = "RS256"
# How long a fetched key set is trusted before it is fetched again, and how long a fetch may
# take: the fetch runs on the caller's thread, so it must stay short.
CACHE_SECONDS = 300
FETCH_TIMEOUT_SECONDS = 5
# A service refreshes the set in the background this often, well within CACHE_SECONDS, so the
# check on the event loop finds it cached; only a token with an unknown `kid` (a rotation
# newer than the last refresh) fetches on the spot.
REFRESH_SECONDS = CACHE_SECONDS / 3


class JwksKeys:
    """Finds the RSA key that signed a token, by its `kid`."""

    def __init__(self, source: str) -> None:
        self._client: jwt.PyJWKClient | None = None
        self._keys: list[jwt.PyJWK] = []
        if source.startswith(("http://", "https://")):
            self._client = jwt.PyJWKClient(source, cache_jwk_set=True, lifespan=CACHE_SECONDS,
                                           timeout=FETCH_TIMEOUT_SECONDS)
        else:
            key_set = jwt.PyJWKSet.from_json(Path(source.removeprefix("file://")).read_text())
            self._keys = [key for key in key_set.keys if _is_rsa(key)]

    @property
    def fetched(self) -> bool:
        """True for a URL, whose key set must be fetched (and kept fresh); False for a file."""
        return self._client is not None

    def refresh(self) -> None:
        """Fetches the key set now (a URL only). Blocking: run it off the event loop."""
        if self._client is not None:
            try:
                self._client.get_jwk_set(refresh=True)
            except jwt.PyJWKClientError as exc:
                raise Unavailable("JWKS_UNAVAILABLE", f"the JWKS could not be fetched: {exc}") from None

    def key_for(self, token: str) -> jwt.PyJWK:
        """The signing key named by the token's header; Unauthenticated if there is none."""
        try:
            if self._client is not None:
                key = self._client.get_signing_key_from_jwt(token)
                if not _is_rsa(key):
                    raise Unauthenticated("INVALID_TOKEN", "the JWKS key is not an RSA key")
                return key
            kid = jwt.get_unverified_header(token).get("kid")
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise Unauthenticated("INVALID_TOKEN", f"the token is invalid: {exc}") from None
        for key in self._keys:
            if kid is None or key.key_id == kid:
                return key
        raise Unauthenticated("INVALID_TOKEN", f"no key {kid!r} in the JWKS")


def _is_rsa(key: jwt.PyJWK) -> bool:
    return key.key_type == "RSA"


def jwks_keys(source: str) -> JwksKeys | None:
    """The key set named by CLEARMESH_JWKS, or None when tokens are HS256 only (the local default)."""
    return JwksKeys(source) if source else None


async def keep_fresh(keys: JwksKeys, interval: float = REFRESH_SECONDS) -> None:
    """Refreshes a fetched key set forever, off the event loop; a failed fetch is retried next time."""
    while True:
        try:
            await asyncio.to_thread(keys.refresh)
        except Unavailable:
            log.warning("JWKS refresh failed; the cached keys stay in use", exc_info=True)
        await asyncio.sleep(interval)
