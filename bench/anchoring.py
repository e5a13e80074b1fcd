"""Settlement proofs and anchoring benchmark: what a batch costs before and on the chain.

    python bench/anchoring.py [--quick]

For batches of N trades: encoding the canonical leaves and hashing them, the Merkle root,
every leaf's proof (merkle_proofs, the tree built once), and verifying every proof; then
anchoring roots on the in-process Solana VM (LiteSVM: a real signed Memo transaction each)
and reading the memos back. One process, one core. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "protos" / "gen" / "python"))

from solders.keypair import Keypair

from services.settlement.chain import LiteSvmChain
from services.settlement.domain.merkle import (
    TradeLeaf, leaf_bytes, leaf_hash, memo_for_root, merkle_proofs, merkle_root, verify_proof,
)


def trades(count: int) -> list[TradeLeaf]:
    return [
        TradeLeaf(
            trade=f"markets/BTC-USDC/trades/{sequence}", market="markets/BTC-USDC", sequence=sequence,
            price="30000.50", quantity="0.25", buyer=f"accounts/buyer{sequence % 97}",
            seller=f"accounts/seller{sequence % 89}", buyer_fee="7.50", seller_fee="7.50",
            fee_asset="USDC", execute_time="2026-12-06T01:02:03.123456Z",
        )
        for sequence in range(1, count + 1)
    ]


def best_ms(work: Callable[[], Any], repeats: int) -> float:
    """The fastest of `repeats` runs: the cost without the machine's other tenants."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def batch_figures(size: int, repeats: int) -> dict[str, float]:
    leaves = trades(size)
    data = [leaf_bytes(leaf) for leaf in leaves]
    hashes = [leaf_hash(item) for item in data]
    root = merkle_root(hashes)
    proofs = merkle_proofs(hashes)
    figures = {
        "leaves_ms": best_ms(lambda: [leaf_hash(leaf_bytes(leaf)) for leaf in leaves], repeats),
        "root_ms": best_ms(lambda: merkle_root(hashes), repeats),
        "all_proofs_ms": best_ms(lambda: merkle_proofs(hashes), repeats),
        "verify_all_ms": best_ms(lambda: [verify_proof(d, p, root) for d, p in zip(data, proofs, strict=True)], repeats),
        "proof_steps": max(len(proof) for proof in proofs),
    }
    return {key: round(value, 3) for key, value in figures.items()}


async def anchor_figures(count: int) -> dict[str, float]:
    chain = LiteSvmChain(Keypair())
    memo = memo_for_root(bytes(32))
    anchor_us, read_us = [], []
    signatures = []
    for _ in range(count):
        start = time.perf_counter()
        signatures.append((await chain.anchor(memo)).signature)
        anchor_us.append((time.perf_counter() - start) * 1e6)
    for signature in signatures:
        start = time.perf_counter()
        await chain.read_memo(signature)
        read_us.append((time.perf_counter() - start) * 1e6)
    await chain.close()
    return {
        "anchor_p50_us": round(statistics.median(anchor_us), 1),
        "read_memo_p50_us": round(statistics.median(read_us), 1),
        "anchors_per_s": round(count / (sum(anchor_us) / 1e6)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats")
    quick = parser.parse_args().quick
    sizes = [100, 1000] if quick else [100, 1000, 10_000]
    repeats = 3 if quick else 5
    result: dict[str, Any] = {}
    for size in sizes:
        result[f"batch_{size}"] = figures = batch_figures(size, repeats)
        print(f"batch of {size}: {figures}")
    result["litesvm"] = anchors = asyncio.run(anchor_figures(200 if quick else 2000))
    print(f"LiteSVM anchoring: {anchors}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
