"""`clearmesh keys`: the cold-storage ceremony as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from solders.keypair import Keypair

from services.cli import main


def test_split_prints_only_the_public_key_and_any_three_shares_recover_it(tmp_path: Path) -> None:
    runner = CliRunner()
    split = runner.invoke(main, ["keys", "split", "--threshold", "3", "--shares", "5",
                                 "--out", str(tmp_path / "shares")])
    assert split.exit_code == 0, split.output
    pubkey = split.output.strip()
    shares = sorted((tmp_path / "shares").iterdir())
    recovered = runner.invoke(main, ["keys", "recover", *map(str, shares[2:5]), "--out", str(tmp_path / "k.json")])
    assert recovered.exit_code == 0, recovered.output
    keypair = Keypair.from_bytes(bytes(json.loads((tmp_path / "k.json").read_text())))
    assert recovered.output.strip() == pubkey == str(keypair.pubkey())


def test_recovering_from_too_few_shares_fails_with_a_clear_message(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["keys", "split", "--threshold", "3", "--shares", "5", "--out", str(tmp_path / "s")])
    shares = sorted((tmp_path / "s").iterdir())[:2]
    result = runner.invoke(main, ["keys", "recover", *map(str, shares), "--out", str(tmp_path / "k.json")])
    assert result.exit_code != 0
    assert "need 3" in result.output
    assert not (tmp_path / "k.json").exists()
