"""PII protection: field encryption at rest, keyed hashing of document numbers, redaction.

The cipher is the one deliberate exception to "no randomness" in this package: Fernet draws a
fresh IV for every token, and a deterministic IV would leak equal plaintexts. Nothing in the
state machine depends on its output.
"""

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

REDACTED = "[REDACTED]"
MIN_HASH_KEY_BYTES = 32
# Separators people type inside document numbers; the MRZ form has none of them.
_DOCUMENT_NUMBER_SEPARATORS = re.compile(r"[\s\-./]+")


def redact(value: object) -> str:
    """What logs and reprs show instead of a PII value: a fixed marker, nothing derived from it."""
    return REDACTED if value not in (None, "") else ""


class PiiDecryptionError(Exception):
    """A stored token was not produced by any configured key (wrong key, or tampered data)."""


class PiiCipher:
    """Encrypts PII strings for storage. The first key encrypts; all keys decrypt (rotation)."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("PiiCipher needs at least one Fernet key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_setting(cls, setting: str) -> "PiiCipher":
        """Keys from one settings value: comma-separated Fernet keys, newest first."""
        return cls([key.strip() for key in setting.split(",") if key.strip()])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise PiiDecryptionError("PII token cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypts a token under the primary key (for a background re-keying job)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise PiiDecryptionError("PII token cannot be decrypted with the configured keys") from exc

    def __repr__(self) -> str:
        return "PiiCipher(keys=[REDACTED])"


def normalize_document_number(number: str) -> str:
    """Canonical form so "ab 12-34" and "AB1234" hash alike: NFKC, uppercase, no separators."""
    folded = unicodedata.normalize("NFKC", number).upper()
    return _DOCUMENT_NUMBER_SEPARATORS.sub("", folded)


class DocumentNumberHasher:
    """HMAC-SHA256 of a normalized document number; only this digest is ever stored.

    Keyed (not a plain hash) because document numbers are short and guessable: without the key
    a leaked table cannot be reversed by enumerating numbers.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_HASH_KEY_BYTES:
            raise ValueError(f"document hash key must be at least {MIN_HASH_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_setting(cls, setting: str) -> "DocumentNumberHasher":
        return cls(setting.encode("utf-8"))

    def hash(self, number: str) -> str:
        message = normalize_document_number(number).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "DocumentNumberHasher(key=[REDACTED])"
