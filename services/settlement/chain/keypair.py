"""The platform keypair that signs (and pays for) anchor transactions.

The file format is the Solana CLI's (`solana-keygen`): a JSON array of the 64 secret-key
bytes (the 32-byte seed followed by the public key), so operators manage it with the usual
tools and `clearmesh keys recover` writes one.
"""

from __future__ import annotations

import json
from pathlib import Path

from solders.keypair import Keypair

from services.runtime.settings import ensure_private_file

GENERATED_KEYPAIR_FILE = "solana_keypair.json"
_SECRET_KEY_SIZE = 64


class KeypairFileError(ValueError):
    """The keypair file cannot be used; the message names the file and what is wrong with it."""


def load_or_create_keypair(path: Path | None, data_dir: Path) -> Keypair:
    """The keypair at `path` (BLOCKCHAIN_KEYPAIR_PATH), or the one generated once into the data dir.

    The generated file (mode 0600) is the embedded default; it is reused on every start, so
    the anchors of one data directory all carry the same signer.
    """
    if path is None:
        path = data_dir / GENERATED_KEYPAIR_FILE
        ensure_private_file(data_dir, GENERATED_KEYPAIR_FILE, lambda: keypair_json(Keypair()))
    return read_keypair(path)


def keypair_json(keypair: Keypair) -> str:
    return json.dumps(list(bytes(keypair)), separators=(",", ":"))


def read_keypair(path: Path) -> Keypair:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeypairFileError(f"cannot read the Solana keypair file {path}: {exc}") from exc
    try:
        numbers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeypairFileError(f"{path} is not a Solana keypair file (a JSON array of 64 bytes): {exc}") from exc
    if (
        not isinstance(numbers, list)
        or len(numbers) != _SECRET_KEY_SIZE
        or not all(type(n) is int and 0 <= n <= 255 for n in numbers)
    ):
        raise KeypairFileError(f"{path} is not a Solana keypair file: expected a JSON array of 64 bytes (0-255)")
    try:
        # Checks that the second half is the public key of the first: a file with a
        # corrupted half would otherwise sign as someone other than it claims.
        return Keypair.from_bytes(bytes(numbers))
    except ValueError as exc:
        raise KeypairFileError(f"{path} is not a valid Solana keypair: {exc}") from exc
