"""The simulated platform: KYC, Wallet, Matching, Order and Settlement, each built by its own
service's `build` on its own SQLite file, in one process, talking through the `Network`.

A node is one incarnation of a service process. `crash` kills it the way `kill -9` does: its
tasks stop wherever they are (cancelled, so none runs again), its SQLite connections close
(whatever it had not committed is gone), its connections reset. `restart` runs the service's
start-up again on the same files: `spec.build(runtime)` with a fresh runtime, which is where
each service rebuilds its memory from its store (Matching replays its journal, Order's repair
runs, Settlement's intake resumes from its cursors) — the real start-up code, not a copy.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.kyc.service import SPEC as KYC
from services.matching.service import SPEC as MATCHING
from services.order.service import SPEC as ORDER
from services.runtime import migrate
from services.runtime.auth import Principal, access_rules
from services.runtime.server import ServiceRuntime, ServiceSpec
from services.runtime.settings import Settings
from services.settlement.chain import LiteSvmChain, load_or_create_keypair
from services.settlement.service import settlement_spec
from services.wallet.service import SPEC as WALLET

from tests.testkit.simulation.loop import NODE, Connections, SimLoop, collect_garbage
from tests.testkit.simulation.network import Call, Network, SimChannel

EPOCH = datetime(2030, 1, 1, tzinfo=UTC)
SERVICES = ("kyc", "wallet", "matching", "order", "settlement")
JWT_SECRET = "simulation-secret-simulation-secret"


def sim_settings(data_dir: Path) -> Settings:
    # Explicit database URLs: the embedded SQLite files, whatever the environment says.
    urls: dict[str, Any] = {f"{name}_database_url": "" for name in SERVICES}
    # A simulated crash loses the process, never the machine: NORMAL keeps all it needs to
    # (every commit) without an fsync per commit, which a disk-backed temporary folder pays.
    return Settings(CLEARMESH_DATA_DIR=data_dir, database_url="", **urls, jwt_secret=JWT_SECRET,
                    matching_interval_ms=500, settlement_retry_attempts=1000, settlement_retry_delay_secs=0.5,
                    CLEARMESH_LOG_LEVEL="CRITICAL", CLEARMESH_SQLITE_SYNCHRONOUS="NORMAL")


class SimClock:
    """Wall time as the services see it: the loop's virtual time from a fixed epoch."""

    def __init__(self, loop: SimLoop) -> None:
        self._loop = loop

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self._loop.time())


class SimRuntime(ServiceRuntime):
    """The service runtime with the simulated network for its peers."""

    def __init__(self, spec: ServiceSpec, settings: Settings, clock: SimClock, node: Node) -> None:
        super().__init__(spec, settings, clock)
        self._node = node

    def channel(self, service: str, address: str | None = None) -> Any:  # one simulated node per service
        node = self._node
        return SimChannel(node.world.network, node, service, Principal(service=node.name))

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = super().spawn(work, name)
        node = self._node

        def died(finished: asyncio.Task[Any]) -> None:
            if node.alive and not finished.cancelled() and finished.exception() is not None:
                node.world.fail(f"{node.name}: background task {name} died: {finished.exception()!r}",
                                finished.exception())

        task.add_done_callback(died)
        return task


class Node:
    def __init__(self, world: World, name: str, spec: ServiceSpec | None) -> None:
        self.world = world
        self.name = name
        self.spec = spec
        self.alive = False
        self.servicer: Any = None
        self.context = contextvars.copy_context()
        self.context.run(NODE.set, name)

    def start(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task of this node (own context: what it binds stays its own)."""
        return self.world.loop.create_task(work, name=f"{self.name}: {name}", context=self.context.copy())

    async def boot(self) -> None:
        assert self.spec is not None
        runtime = SimRuntime(self.spec, self.world.settings, self.world.clock, self)
        self.servicer = await self.start(_coroutine(self.spec.build(runtime)), "start-up")
        self.alive = True


async def _coroutine(work: Awaitable[Any]) -> Any:
    return await work


class World:
    def __init__(self, loop: SimLoop, data_dir: Path, connections: Connections) -> None:
        self.loop = loop
        self.data_dir = data_dir
        self.connections = connections
        self.settings = sim_settings(data_dir)
        self.clock = SimClock(loop)
        self.network = Network(self)
        self.calls: list[Call] = []
        self.failures: list[str] = []
        self.errors: list[BaseException] = []
        self.nodes: dict[str, Node] = {}
        self.client = Node(self, "client", None)
        self.client.alive = True
        self.next_timer: float | None = None
        self._waiter: asyncio.Future[None] | None = None
        # The chain is outside the platform: it outlives a Settlement crash.
        self.chain = LiteSvmChain(load_or_create_keypair(None, data_dir))
        specs = {"kyc": KYC, "wallet": WALLET, "matching": MATCHING, "order": ORDER,
                 "settlement": settlement_spec(lambda _settings: self.chain)}
        self.specs = specs
        self.network.rules = access_rules([spec.descriptor for spec in specs.values()])
        self.network.descriptors = {name: spec.descriptor for name, spec in specs.items()}
        loop.idle_hook = self._idle

    def fail(self, what: str, error: BaseException | None = None) -> None:
        self.failures.append(what)
        if error is not None:
            self.errors.append(error)

    # ------------------------------------------------------------- the loop

    def _idle(self, timeout: float | None) -> None:
        self.next_timer = timeout
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)  # the driver decides what happens next
            return
        if timeout is None:
            raise RuntimeError("the simulation is stuck: nothing to run, nothing scheduled")
        self.loop.advance(timeout)

    async def quiescent(self) -> None:
        """Return once every task is waiting (for a message, a timer, or each other)."""
        self._waiter = self.loop.create_future()
        await self._waiter
        self._waiter = None

    def advance(self) -> bool:
        """Move virtual time to the next timer (a deadline, a backoff, a poll); False if none."""
        if self.next_timer is None:
            return False
        self.loop.advance(self.next_timer)
        return True

    # ------------------------------------------------------------ processes

    async def start_all(self) -> None:
        for name in SERVICES:
            node = self.nodes[name] = Node(self, name, self.specs[name])
            await node.boot()

    async def crash(self, name: str) -> None:
        node = self.nodes[name]
        node.alive = False
        self.network.node_crashed(node)
        for task in self.loop.pop_tasks(name):
            task.cancel()
        await self.quiescent()  # they unwind (cancelled: nothing runs on)
        collect_garbage()  # what they abandoned is freed now, not at a moment allocations pick
        self.connections.close_all(name)

    async def restart(self, name: str) -> None:
        node = self.nodes[name] = Node(self, name, self.specs[name])
        await node.boot()

    @property
    def down(self) -> list[str]:
        return [name for name, node in self.nodes.items() if not node.alive]


# --------------------------------------------------------------- data files

_TEMPLATE: Path | None = None


def _template() -> Path:
    """The five databases migrated once per process; each run starts from a copy."""
    global _TEMPLATE
    if _TEMPLATE is None:
        directory = Path(tempfile.mkdtemp(prefix="clearmesh-sim-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        settings = sim_settings(directory)
        specs = {"kyc": KYC, "wallet": WALLET, "matching": MATCHING, "order": ORDER, "settlement": settlement_spec()}

        async def migrate_all() -> None:
            for name, spec in specs.items():
                await migrate.upgrade(settings.database_url_for(name), spec.migrations)

        logging.getLogger("alembic").setLevel(logging.WARNING)
        asyncio.run(migrate_all())
        _TEMPLATE = directory
    return _TEMPLATE


def fresh_data_dir() -> Path:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    directory = Path(tempfile.mkdtemp(prefix="clearmesh-sim-", dir=base))
    shutil.copytree(_template(), directory, dirs_exist_ok=True)
    return directory
