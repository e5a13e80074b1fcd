"""`clearmesh`: the one way to start anything."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from services.registry import SERVICE_NAMES, UP_ORDER, load_spec
from services.runtime.loop import run as run_loop
from services.runtime.settings import DEFAULT_PORTS, METRICS_BASE_PORT, Settings


@click.group()
def main() -> None:
    """clearmesh: a market-clearing platform as a gRPC service mesh."""


@main.command()
@click.argument("service", type=click.Choice([*SERVICE_NAMES, "edge"]))
def serve(service: str) -> None:
    """Run one service (or the REST edge) until SIGTERM."""
    if service == "edge":
        from gateway.app import serve as serve_edge

        run_loop(serve_edge(Settings()))
        return
    from services.runtime.server import serve as serve_service

    run_loop(serve_service(load_spec(service), Settings()))


@main.command()
def up() -> None:
    """Run every service (and the REST edge) on this machine, on SQLite by default."""
    from services.supervisor import Child, run

    settings = Settings()
    children = [
        Child(name, (sys.executable, "-m", "services.cli", "serve", name),
              f"127.0.0.1:{DEFAULT_PORTS[name]}", f"grpc://127.0.0.1:{DEFAULT_PORTS[name]}",
              {"METRICS_PORT": str(METRICS_BASE_PORT + 1 + index)})
        for index, name in enumerate(UP_ORDER)
    ]
    # The edge last: its /healthz answers 200 only once every service is SERVING.
    edge = f"http://{settings.edge_host}:{settings.edge_port}"
    children.append(Child("edge", (sys.executable, "-m", "services.cli", "serve", "edge"), None,
                          edge, {"METRICS_PORT": str(METRICS_BASE_PORT)}))
    sys.exit(run_loop(run(children, settings)))


@main.command()
@click.argument("services", nargs=-1, type=click.Choice(SERVICE_NAMES))
def migrate(services: tuple[str, ...]) -> None:
    """Apply database migrations (all services when none is named)."""
    from services.runtime.migrate import upgrade

    settings = Settings()
    for name in services or SERVICE_NAMES:
        spec = load_spec(name)
        # Every Matching shard keeps its own schema (or file): each is migrated.
        shards = range(settings.matching_shard_map().count) if name == "matching" else [None]
        for shard in shards:
            run_loop(upgrade(settings.database_url_for(name, shard), spec.migrations))
            click.echo(f"{name}: migrated" if not shard else f"{name} shard {shard}: migrated")


@main.command()
@click.option("--account", help="The account id (the token's `sub`).")
@click.option("--role", "roles", multiple=True, type=click.Choice(["trader", "operator"]),
              help="Repeat for several roles.")
@click.option("--service", type=click.Choice(SERVICE_NAMES), help="Mint a service token instead.")
def token(account: str | None, roles: tuple[str, ...], service: str | None) -> None:
    """Print a JWT signed with JWT_SECRET (or the data directory's generated secret)."""
    from services.runtime.auth import token_issuer

    if bool(account) == bool(service):
        raise click.UsageError("give exactly one of --account or --service")
    click.echo(token_issuer(Settings()).mint(account=account, roles=roles or ("trader",), service=service))


class CannotCheck(click.ClickException):
    """The check could not be made (unreadable proof, unreachable chain): neither yes nor no."""

    exit_code = 2


@main.command("verify-proof")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rpc-url", help="Also check the anchor transaction on this Solana RPC endpoint.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for the RPC endpoint.")
def verify_proof(proof_file: Path, rpc_url: str | None, timeout: float) -> None:
    """Check a settlement proof (the JSON of GET /v1/settlements/{id}/proof).

    Exit 0: the proof verifies; 1: it does not (the output says what differs); 2: it could
    not be checked.
    """
    from services.runtime.errors import DomainError
    from services.settlement.proofs import ProofFormatError, check_anchor_over_rpc, check_offline, parse_proof

    try:
        proof = parse_proof(proof_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ProofFormatError) as exc:
        raise CannotCheck(f"{proof_file}: {exc}") from None
    verdicts = [check_offline(proof)]
    if rpc_url:
        try:
            verdicts.append(run_loop(check_anchor_over_rpc(proof, rpc_url, timeout=timeout)))
        except DomainError as exc:
            raise CannotCheck(f"cannot check the anchor: {exc.message}") from None
    click.echo(f"settlement {proof.settlement}")
    for verdict in verdicts:
        for fact in verdict.facts:
            click.echo(f"  {fact}")
        for difference in verdict.differences:
            click.echo(f"  DIFFERS: {difference}")
    if all(verdict.verifies for verdict in verdicts):
        click.echo("proof verifies" + (" and is anchored on chain" if rpc_url else " (offline; --rpc-url also checks the anchor)"))
        return
    click.echo("proof does NOT verify")
    sys.exit(1)


@main.command()
@click.option("--market", default="", help="Only this market (markets/BTC-USDC); all when omitted.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait for the answer.")
def reconcile(market: str, timeout: float) -> None:
    """Compare Matching's trades, the settlements, the Wallet's postings and the anchored
    batches (the Settlement service's Reconcile, called as an operator); exit 1 on any mismatch."""
    import grpc

    from clearmesh.settlement.v1 import settlement_service_pb2 as pb, settlement_service_pb2_grpc as pb_grpc
    from services.runtime.auth import token_issuer

    settings = Settings()
    token = token_issuer(settings).mint(account="clearmesh-cli", roles=["operator"])
    metadata = (("authorization", f"Bearer {token}"),)

    async def call() -> pb.ReconcileResponse:
        async with grpc.aio.insecure_channel(settings.settlement_addr) as channel:
            return await pb_grpc.SettlementServiceStub(channel).Reconcile(
                pb.ReconcileRequest(market=market), metadata=metadata, timeout=timeout)

    try:
        answer = run_loop(call())
    except grpc.aio.AioRpcError as error:
        raise click.ClickException(f"Reconcile failed: {error.code().name}: {error.details()}") from None
    for mismatch in answer.mismatches:
        click.echo(f"MISMATCH {mismatch}")
    click.echo(f"checked {answer.checked_count} trades, {len(answer.mismatches)} mismatches")
    if answer.mismatches:
        sys.exit(1)


@main.command()
@click.option("--transport", type=click.Choice(["grpc", "rest"]), default="grpc", show_default=True,
              help="gRPC straight to Order, or REST through the edge.")
@click.option("--traders", type=click.IntRange(min=1), default=32, show_default=True,
              help="New accounts, each through KYC and funded.")
@click.option("--workers", type=click.IntRange(min=1), default=32, show_default=True, help="Calls in flight at most.")
@click.option("--rate", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Actions a second; 0 sends as fast as the mesh answers.")
@click.option("--duration", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds to run.")
@click.option("--seed", type=int, default=1, show_default=True, help="The flow's seed: the same seed, the same flow.")
def load(transport: str, traders: int, workers: int, rate: float, duration: float, seed: int) -> None:
    """Send a realistic order flow (about 30 % crossing, cancels, market and IOC orders, both
    default markets) to a running mesh; print throughput, PlaceOrder latency and settlement
    lag. The last line is one JSON object."""
    import json

    from services.load.report import summary_lines
    from services.load.runner import Plan
    from services.load.session import Target, run_load
    from services.runtime.auth import token_issuer

    settings = Settings()
    target = Target(settings.order_addr, settings.matching_addr, settings.wallet_addr, settings.kyc_addr,
                    settings.settlement_addr, settings.edge_host, settings.edge_port)

    def show(line: str) -> None:
        click.echo(line, err=True)

    result = run_loop(run_load(token_issuer(settings), target, transport=transport, traders=traders,
                               plan=Plan(workers=workers, rate=rate, duration_secs=duration), seed=seed, show=show))
    for line in summary_lines(result):
        click.echo(line)
    click.echo(json.dumps(result))


@main.group()
def keys() -> None:
    """Cold-storage key ceremony: split a new Solana keypair into SLIP-39 shares, or recover it."""


@keys.command("split")
@click.option("--threshold", type=int, required=True, help="Shares needed to recover.")
@click.option("--shares", type=int, required=True, help="Shares to create.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for the share files (one per custodian).")
def keys_split(threshold: int, shares: int, out_dir: Path) -> None:
    """Create a new keypair, write its shares and print only its public key."""
    from services.wallet.keys import KeyCeremonyError, split_keypair

    try:
        click.echo(split_keypair(threshold, shares, out_dir))
    except KeyCeremonyError as exc:
        raise click.ClickException(str(exc)) from None


@keys.command("recover")
@click.argument("share_paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_file", type=click.Path(path_type=Path), required=True,
              help="Where to write the keypair (Solana CLI JSON).")
def keys_recover(share_paths: tuple[Path, ...], out_file: Path) -> None:
    """Rebuild the keypair file from enough shares; print its public key."""
    from services.wallet.keys import KeyCeremonyError, recover_keypair

    try:
        click.echo(recover_keypair(list(share_paths), out_file))
    except KeyCeremonyError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
