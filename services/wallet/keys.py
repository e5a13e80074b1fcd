"""Cold-storage key ceremony: split a new Solana keypair into SLIP-39 shares, and recover it.

The secret split is the keypair's 32-byte seed (the 64-byte Solana secret key is the seed
followed by the public key, so the seed is the whole secret). Splitting and checksums are
left to the vetted `shamir_mnemonic` (SLIP-39) library: each share is a word list with an
RS1024 checksum that catches corruption, and a ceremony identifier that tells shares of
different ceremonies apart.

A share file is the mnemonic on one line, after comment lines (`#`) telling a human what
it is and which public key it restores; recovery ignores the comments except to check the
public key it rebuilt is the one the shares announce.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shamir_mnemonic import MnemonicError, Share, combine_mnemonics, generate_mnemonics
from shamir_mnemonic.constants import MAX_SHARE_COUNT
from solders.keypair import Keypair

SHARE_FILE_MODE = 0o600
KEYPAIR_FILE_MODE = 0o600
_PUBKEY_HEADER = "# public key: "


class KeyCeremonyError(Exception):
    """A ceremony step that cannot proceed; `message` is meant for the operator."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class _ShareFile:
    path: Path
    mnemonic: str
    share: Share
    announced_pubkey: str | None


def share_file_name(index: int, count: int) -> str:
    return f"share-{index}-of-{count}.txt"


def split_keypair(threshold: int, shares: int, out_dir: Path) -> str:
    """Create a keypair, write `shares` share files (any `threshold` recover it); return the pubkey.

    Refuses to overwrite existing share files, so a second ceremony cannot silently mix
    with the first in the same directory.
    """
    if not 2 <= threshold <= shares <= MAX_SHARE_COUNT:
        raise KeyCeremonyError(
            "INVALID_PARAMETERS",
            f"need 2 <= threshold <= shares <= {MAX_SHARE_COUNT}; got threshold {threshold}, shares {shares}",
        )
    paths = [out_dir / share_file_name(index, shares) for index in range(1, shares + 1)]
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise KeyCeremonyError("SHARE_FILE_EXISTS", f"refusing to overwrite existing share files: {', '.join(existing)}")

    keypair = Keypair()
    pubkey = str(keypair.pubkey())
    # One group holding all the member shares: SLIP-39's plain "threshold of shares".
    [mnemonics] = generate_mnemonics(group_threshold=1, groups=[(threshold, shares)], master_secret=keypair.secret())

    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for index, (path, mnemonic) in enumerate(zip(paths, mnemonics, strict=True), start=1):
        header = (
            f"# clearmesh cold-storage key share {index} of {shares}; any {threshold} recover the key.\n"
            f"{_PUBKEY_HEADER}{pubkey}\n"
        )
        _write_private(path, header + mnemonic + "\n", SHARE_FILE_MODE)
    return pubkey


def recover_keypair(share_paths: Sequence[Path], out_file: Path) -> str:
    """Rebuild the keypair from enough shares into a Solana CLI keypair file; return the pubkey."""
    if out_file.exists():
        raise KeyCeremonyError("KEYPAIR_FILE_EXISTS", f"refusing to overwrite {out_file}")
    share_files = [_read_share(path) for path in share_paths]
    if not share_files:
        raise KeyCeremonyError("INSUFFICIENT_SHARES", "no share files given")
    _require_one_ceremony(share_files)
    distinct = list({share_file.share: share_file for share_file in share_files}.values())
    threshold = distinct[0].share.member_threshold
    if len(distinct) < threshold:
        raise KeyCeremonyError(
            "INSUFFICIENT_SHARES",
            f"need {threshold} different shares of this key, got {len(distinct)}",
        )
    chosen, extra = distinct[:threshold], distinct[threshold:]
    seed = _combine(chosen)
    # Shares beyond the threshold are not needed, but one that disagrees is damaged: check
    # each against the others so the operator learns about it now, not at the next recovery.
    for share_file in extra:
        if _combine([*chosen[: threshold - 1], share_file]) != seed:
            raise KeyCeremonyError("CORRUPTED_SHARE", f"share file {share_file.path} does not match the others")

    keypair = Keypair.from_seed(seed)
    pubkey = str(keypair.pubkey())
    announced = {s.announced_pubkey for s in share_files if s.announced_pubkey is not None}
    if announced and announced != {pubkey}:
        raise KeyCeremonyError(
            "PUBKEY_MISMATCH",
            f"recovered {pubkey}, but the share files announce {', '.join(sorted(announced))}",
        )
    # The Solana CLI format: a JSON array of the 64 secret-key bytes (seed + public key).
    _write_private(out_file, json.dumps(list(bytes(keypair)), separators=(",", ":")), KEYPAIR_FILE_MODE)
    return pubkey


def _combine(share_files: Sequence[_ShareFile]) -> bytes:
    try:
        seed: bytes = combine_mnemonics([share_file.mnemonic for share_file in share_files])
    except MnemonicError as exc:
        # Every share passed its checksum, so a failing digest means a share was altered.
        names = ", ".join(str(share_file.path) for share_file in share_files)
        raise KeyCeremonyError("CORRUPTED_SHARE", f"the shares {names} do not combine: {exc}") from exc
    return seed


def _read_share(path: Path) -> _ShareFile:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyCeremonyError("SHARE_UNREADABLE", f"cannot read share file {path}: {exc}") from exc
    announced = next(
        (line[len(_PUBKEY_HEADER):].strip() for line in lines if line.startswith(_PUBKEY_HEADER)), None
    )
    mnemonic = " ".join(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    try:
        share = Share.from_mnemonic(mnemonic)
    except MnemonicError as exc:
        raise KeyCeremonyError("CORRUPTED_SHARE", f"share file {path} is damaged: {exc}") from exc
    return _ShareFile(path, mnemonic, share, announced)


def _require_one_ceremony(share_files: Sequence[_ShareFile]) -> None:
    first = share_files[0]
    for other in share_files[1:]:
        if other.share.group_parameters() != first.share.group_parameters():
            raise KeyCeremonyError(
                "MIXED_CEREMONIES",
                f"share files {first.path} and {other.path} come from different key ceremonies",
            )


def _write_private(path: Path, text: str, mode: int) -> None:
    # O_EXCL: never clobber; the mode applies at creation, so the secret is never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), mode)  # the umask may have narrowed it; make it exact
        handle.write(text)
