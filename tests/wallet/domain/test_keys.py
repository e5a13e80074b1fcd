"""Key ceremony: a Solana keypair split 3-of-5 with SLIP-39 comes back from any 3 shares."""

from __future__ import annotations

import dataclasses
import json
import stat
from itertools import combinations
from pathlib import Path

import pytest
from shamir_mnemonic import Share
from solders.keypair import Keypair

from services.wallet.keys import KeyCeremonyError, recover_keypair, share_file_name, split_keypair


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Path]]:
    out_dir = tmp_path_factory.mktemp("ceremony") / "shares"
    pubkey = split_keypair(threshold=3, shares=5, out_dir=out_dir)
    return pubkey, [out_dir / share_file_name(index, 5) for index in range(1, 6)]


def test_split_writes_one_private_file_per_share(ceremony: tuple[str, list[Path]]) -> None:
    _, paths = ceremony
    assert all(path.exists() for path in paths)
    assert {stat.S_IMODE(path.stat().st_mode) for path in paths} == {0o600}


def test_share_files_hold_no_secret_key_material_but_the_mnemonic(ceremony: tuple[str, list[Path]]) -> None:
    pubkey, paths = ceremony
    text = paths[0].read_text()
    assert f"# public key: {pubkey}" in text
    assert "[" not in text  # no JSON keypair


def test_every_three_shares_recover_the_same_keypair(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    pubkey, paths = ceremony
    for number, subset in enumerate(combinations(paths, 3)):
        out_file = tmp_path / f"recovered-{number}.json"
        assert recover_keypair(list(subset), out_file) == pubkey


def test_recovered_file_is_a_solana_cli_keypair(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    pubkey, paths = ceremony
    out_file = tmp_path / "id.json"
    recover_keypair(paths[:3], out_file)
    secret = json.loads(out_file.read_text())
    assert len(secret) == 64 and all(0 <= byte <= 255 for byte in secret)
    assert str(Keypair.from_bytes(bytes(secret)).pubkey()) == pubkey
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600


def test_more_shares_than_the_threshold_also_recover(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    pubkey, paths = ceremony
    assert recover_keypair(paths, tmp_path / "id.json") == pubkey


def test_two_shares_are_not_enough(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    _, paths = ceremony
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair(paths[:2], tmp_path / "id.json")
    assert caught.value.reason == "INSUFFICIENT_SHARES"
    assert "need 3" in caught.value.message
    assert not (tmp_path / "id.json").exists()


def test_the_same_share_twice_counts_once(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    _, paths = ceremony
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([paths[0], paths[0], paths[1]], tmp_path / "id.json")
    assert caught.value.reason == "INSUFFICIENT_SHARES"


def test_shares_from_two_ceremonies_do_not_mix(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    _, paths = ceremony
    split_keypair(threshold=3, shares=5, out_dir=tmp_path / "other")
    other = tmp_path / "other" / share_file_name(3, 5)
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([paths[0], paths[1], other], tmp_path / "id.json")
    assert caught.value.reason == "MIXED_CEREMONIES"
    assert str(other) in caught.value.message


def test_a_corrupted_share_is_named(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    _, paths = ceremony
    lines = paths[2].read_text().splitlines()
    words = lines[-1].split()
    words[10] = "academic" if words[10] != "academic" else "acid"  # one wrong word
    corrupted = tmp_path / "corrupted.txt"
    corrupted.write_text("\n".join([*lines[:-1], " ".join(words)]) + "\n")
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([paths[0], paths[1], corrupted], tmp_path / "id.json")
    assert caught.value.reason == "CORRUPTED_SHARE"
    assert str(corrupted) in caught.value.message


def test_a_missing_share_file_is_reported(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    _, paths = ceremony
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([paths[0], paths[1], tmp_path / "absent.txt"], tmp_path / "id.json")
    assert caught.value.reason == "SHARE_UNREADABLE"


def test_recovery_never_overwrites_an_existing_keypair_file(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    _, paths = ceremony
    out_file = tmp_path / "id.json"
    out_file.write_text("keep me")
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair(paths[:3], out_file)
    assert caught.value.reason == "KEYPAIR_FILE_EXISTS"
    assert out_file.read_text() == "keep me"


def test_split_never_overwrites_earlier_shares(tmp_path: Path) -> None:
    split_keypair(threshold=2, shares=3, out_dir=tmp_path)
    before = (tmp_path / share_file_name(1, 3)).read_text()
    with pytest.raises(KeyCeremonyError) as caught:
        split_keypair(threshold=2, shares=3, out_dir=tmp_path)
    assert caught.value.reason == "SHARE_FILE_EXISTS"
    assert (tmp_path / share_file_name(1, 3)).read_text() == before


@pytest.mark.parametrize(("threshold", "shares"), [(1, 5), (4, 3), (0, 0), (3, 17)])
def test_impossible_thresholds_are_refused(tmp_path: Path, threshold: int, shares: int) -> None:
    with pytest.raises(KeyCeremonyError) as caught:
        split_keypair(threshold=threshold, shares=shares, out_dir=tmp_path)
    assert caught.value.reason == "INVALID_PARAMETERS"
    assert list(tmp_path.iterdir()) == []


def test_each_ceremony_makes_a_new_key(tmp_path: Path) -> None:
    assert split_keypair(2, 2, tmp_path / "a") != split_keypair(2, 2, tmp_path / "b")


def altered_with_valid_checksum(path: Path, out: Path) -> Path:
    """A share whose value was changed and re-encoded, so only the SLIP-39 digest can tell."""
    share = Share.from_mnemonic(path.read_text().splitlines()[-1])
    flipped = bytes([share.value[0] ^ 0x01]) + share.value[1:]
    out.write_text(dataclasses.replace(share, value=flipped).mnemonic() + "\n")
    return out


def test_an_altered_share_with_a_valid_checksum_fails_the_digest(
    ceremony: tuple[str, list[Path]], tmp_path: Path
) -> None:
    _, paths = ceremony
    altered = altered_with_valid_checksum(paths[2], tmp_path / "altered.txt")
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([paths[0], paths[1], altered], tmp_path / "id.json")
    assert caught.value.reason == "CORRUPTED_SHARE"
    assert not (tmp_path / "id.json").exists()


def test_an_altered_share_beyond_the_threshold_is_still_caught(
    ceremony: tuple[str, list[Path]], tmp_path: Path
) -> None:
    _, paths = ceremony
    altered = altered_with_valid_checksum(paths[4], tmp_path / "altered.txt")
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([*paths[:3], altered], tmp_path / "id.json")
    assert caught.value.reason == "CORRUPTED_SHARE"
    assert str(altered) in caught.value.message


def test_a_share_announcing_another_public_key_is_refused(ceremony: tuple[str, list[Path]], tmp_path: Path) -> None:
    pubkey, paths = ceremony
    other_pubkey = str(Keypair().pubkey())
    relabelled = tmp_path / "relabelled.txt"
    relabelled.write_text(paths[2].read_text().replace(pubkey, other_pubkey))
    with pytest.raises(KeyCeremonyError) as caught:
        recover_keypair([paths[0], paths[1], relabelled], tmp_path / "id.json")
    assert caught.value.reason == "PUBKEY_MISMATCH"
    assert other_pubkey in caught.value.message
    assert not (tmp_path / "id.json").exists()
