"""One simulated run: a seed decides every step — which message is delivered next, which is
dropped or duplicated, which stream breaks, which service crashes and when it comes back,
when time moves, and what the traders do. After every step the safety invariants are checked;
then the faults stop, the run drains, and the eventual invariants and Settlement's Reconcile
must hold. Same seed, same run (PYTHONHASHSEED pinned): a failing seed is its own reproduction.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

import grpc
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as order_pb
from clearmesh.order.v1 import order_service_pb2_grpc as order_grpc
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.settlement.v1 import settlement_service_pb2_grpc as settlement_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc

from services.runtime.auth import Principal

from tests.testkit.simulation.invariants import Observer
from tests.testkit.simulation.loop import Connections, SimLoop, collect_garbage, deterministic_io
from tests.testkit.simulation.network import Message, SimChannel, token_of
from tests.testkit.simulation.world import World, fresh_data_dir
from tests.testkit.traders import applicant_request, approval_request, passport_request

TRADERS = ("alice", "bob", "carol")
DEPOSITS = {"USDC": "1000000", "BTC": "10", "GRID": "100000"}
CRASHABLE = ("order", "matching", "wallet", "settlement")
CLIENT_TIMEOUT_SECS = 15.0
MAX_CLIENTS = 6  # traders' calls in flight at once
DRAIN_SECS = 180.0  # virtual seconds the fault-free drain may take
TRACE_TAIL = 60

OPERATOR = Principal(account="ops", roles=frozenset({"operator"}))
# market, price choices, quantity choices
MARKETS = (
    ("markets/BTC-USDC", ("99.98", "99.99", "100.00", "100.01", "100.02"), ("0.0010", "0.0025", "0.0050")),
    ("markets/GRID-USDC", ("0.998", "0.999", "1.000", "1.001", "1.002"), ("1.000", "2.500", "10.000")),
)


@dataclass(frozen=True)
class Faults:
    """How hostile one run is; drawn from its seed."""

    drop: float
    duplicate: float
    break_stream: float
    crash: float

    @staticmethod
    def draw(random: Random) -> Faults:
        return Faults(drop=random.choice((0.0, 1.0, 3.0)), duplicate=random.choice((0.0, 1.0, 3.0)),
                      break_stream=random.choice((0.0, 0.5, 1.5)), crash=random.choice((0.0, 0.3, 1.0)))


@dataclass
class Outcome:
    seed: int
    steps: int
    failures: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    schedule: list[str] = field(default_factory=list)  # every callback the loop ran, if recorded
    orders: int = 0
    trades: int = 0
    crashes: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def fingerprint(self) -> str:
        """A digest of everything that happened: equal for two runs of one seed."""
        return hashlib.sha256("\n".join(self.trace).encode()).hexdigest()[:16]

    def report(self) -> str:
        lines = [f"seed {self.seed} FAILED after {len(self.trace)} steps "
                 f"(reproduce: python -m tests.testkit.simulation --seed {self.seed} --steps {self.steps} -v)"]
        lines += [f"  {failure}" for failure in self.failures[:20]]
        lines.append("  last steps:")
        lines += [f"    {line}" for line in self.trace[-TRACE_TAIL:]]
        return "\n".join(lines)


class Simulation:
    def __init__(self, seed: int, steps: int, *, check_every_step: bool = True, record_schedule: bool = False) -> None:
        self.seed = seed
        self.steps = steps
        self.random = Random(seed)
        self.faults = Faults.draw(self.random)
        self.check_every_step = check_every_step
        self.record_schedule = record_schedule
        self.outcome = Outcome(seed, steps)
        self._requests = 0
        self._clients = 0
        self.accepted: dict[str, order_pb2.Order] = {}

    # ------------------------------------------------------------------ run

    def run(self) -> Outcome:
        data_dir = fresh_data_dir()
        connections = Connections()
        loop = SimLoop()
        if self.record_schedule:
            loop.schedule = self.outcome.schedule
        quiet = _quiet_logs()
        # The garbage collector runs when allocations say so, and what it frees (a connection a
        # crashed task abandoned goes back to its pool) changes what the next await does: so it
        # runs only where the simulation says (here, and after each crash), never mid-step.
        collect_garbage()
        gc.disable()
        try:
            with deterministic_io(Random(self.seed ^ 0x5EED), connections):
                loop.run_until_complete(self._main(loop, data_dir, connections))
        except Exception as error:  # noqa: BLE001 - the run itself broke: that is a finding too
            self.outcome.failures.append(f"the simulation raised {error!r}")
        finally:
            loop.schedule = None  # the run is over: what is left is cancelled in no particular order
            _cancel_everything(loop)
            loop.close()
            gc.enable()
            for node in list(connections.by_node):
                connections.close_all(node)
            quiet()
            shutil.rmtree(data_dir, ignore_errors=True)
        return self.outcome

    async def _main(self, loop: SimLoop, data_dir: Any, connections: Connections) -> None:
        world = self.world = World(loop, data_dir, connections)
        observer = Observer(data_dir)
        try:
            await world.start_all()
            await self._setup()
            for step in range(self.steps):
                await world.quiescent()
                if world.failures:
                    break
                if self.check_every_step:
                    problems = await observer.safety()
                    if problems:
                        world.fail(f"after step {step}: " + problems[0])
                        self.outcome.failures += problems[1:]
                        break
                self.outcome.trace.append(f"{step} t={loop.time():.3f} " + await self._step())
            if not world.failures:
                await self._drain(observer)
        finally:
            self.outcome.failures[:0] = world.failures
            for error in world.errors[:1]:
                logging.getLogger("clearmesh.simulation").debug("first error", exc_info=error)
            await observer.close()

    # ------------------------------------------------------------ the setup

    def _channel(self, service: str, principal: Principal) -> SimChannel:
        return SimChannel(self.world.network, self.world.client, service, principal)

    def _request_id(self) -> str:
        self._requests += 1
        return f"sim-{self._requests}"

    async def _setup(self) -> None:
        """Traders through KYC and funded, without faults."""

        async def setup() -> None:
            operator = [("authorization", token_of(OPERATOR))]
            wallet = wallet_grpc.WalletServiceStub(self._channel("wallet", OPERATOR))
            kyc_operator = kyc_grpc.KycServiceStub(self._channel("kyc", OPERATOR))
            for trader in TRADERS:
                kyc = kyc_grpc.KycServiceStub(self._channel("kyc", _trader(trader)))
                applicant = await kyc.CreateApplicant(applicant_request(f"{trader.title()} Example"))
                await kyc.SubmitDocument(passport_request(applicant.name, f"NX{trader.upper()}"))
                await kyc_operator.ReviewApplicant(approval_request(applicant.name, tier=2), metadata=operator)
                for asset, amount in DEPOSITS.items():
                    await wallet.Deposit(wallet_pb.DepositRequest(account=f"accounts/{trader}", asset=asset,
                                                                  amount=amount, request_id=self._request_id()))

        task = self.world.client.start(setup(), "setup")
        await self._fifo(task.done, limit_secs=60.0)
        task.result()  # the setup's own failure, if any

    async def _fifo(self, done: Callable[[], bool], limit_secs: float) -> bool:
        """Deliver in order, without faults, moving time when nothing is in flight."""
        world, loop = self.world, self.world.loop
        until = loop.time() + limit_secs
        while True:
            await world.quiescent()
            if done() or world.failures:
                return done()
            deliverable = world.network.deliverable()
            if deliverable:
                world.network.deliver(deliverable[0])
            elif loop.time() >= until or not world.advance():
                return False

    # ------------------------------------------------------------- one step

    async def _step(self) -> str:
        world, network, random, faults = self.world, self.world.network, self.random, self.faults
        deliverable = network.deliverable()
        messages = [m for m in deliverable if isinstance(m, Message)]
        open_streams = [s for s in network.streams if not s.closed]
        down = world.down
        choices: list[tuple[str, float]] = [
            ("deliver", 40.0 if deliverable else 0.0),
            ("advance", 4.0 if deliverable else 1.0),
            ("place", 10.0 if self._clients < MAX_CLIENTS else 0.0),
            ("cancel", 1.0 if self.accepted and self._clients < MAX_CLIENTS else 0.0),
            ("drop", faults.drop if messages else 0.0),
            ("duplicate", faults.duplicate if messages else 0.0),
            ("break", faults.break_stream if open_streams else 0.0),
            ("crash", faults.crash if not down else 0.0),
            ("restart", 6.0 if down else 0.0),
        ]
        action = random.choices([name for name, _ in choices], weights=[weight for _, weight in choices])[0]
        if action == "deliver":
            return network.deliver(random.choice(deliverable))
        if action == "advance":
            moved = world.next_timer or 0.0
            world.advance()
            return f"advance {moved:.3f}s"
        if action == "place":
            return self._place()
        if action == "cancel":
            return self._cancel()
        if action == "drop":
            return network.drop(random.choice(messages))
        if action == "duplicate":
            return network.duplicate(random.choice(messages))
        if action == "break":
            return network.break_stream(random.choice(open_streams))
        if action == "crash":
            name = random.choice(CRASHABLE)
            self.outcome.crashes += 1
            await world.crash(name)
            return f"crash {name}"
        name = down[0]
        await world.restart(name)
        return f"restart {name}"

    # -------------------------------------------------------------- traders

    def _place(self) -> str:
        random = self.random
        trader = random.choice(TRADERS)
        market, prices, quantities = random.choice(MARKETS)
        side = random.choice((trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL))
        tif = trading_pb2.TIME_IN_FORCE_IOC if random.random() < 0.15 and "BTC" in market else trading_pb2.TIME_IN_FORCE_GTC
        request = order_pb.PlaceOrderRequest(order=order_pb2.Order(
            market=market, side=side, type=trading_pb2.ORDER_TYPE_LIMIT, time_in_force=tif,
            # Buyers bid from the top of the range, sellers ask from the bottom: most orders cross.
            price=random.choice(prices[2:] if side == trading_pb2.SIDE_BUY else prices[:-2]),
            quantity=random.choice(quantities)), request_id=self._request_id())
        stub = order_grpc.OrderServiceStub(self._channel("order", _trader(trader)))
        self._clients += 1
        self.outcome.orders += 1

        async def place() -> None:
            try:
                for attempt in range(4):  # a client retries what got no answer, with the same request_id
                    try:
                        answer = await stub.PlaceOrder(request, timeout=CLIENT_TIMEOUT_SECS)
                    except grpc.aio.AioRpcError as error:
                        if error.code() not in _RETRYABLE:
                            return
                        await asyncio.sleep(1.0 + attempt)
                        continue
                    self.accepted[answer.name] = answer
                    return
            finally:
                self._clients -= 1

        self.world.client.start(place(), "place")
        return f"place {request.request_id} {_trader(trader).account} {market} {trading_pb2.Side.Name(side)} " \
               f"{request.order.quantity}@{request.order.price} {trading_pb2.TimeInForce.Name(tif)}"

    def _cancel(self) -> str:
        name = self.random.choice(sorted(self.accepted))
        order = self.accepted[name]
        stub = order_grpc.OrderServiceStub(self._channel("order", _trader(order.account.removeprefix("accounts/"))))
        request = order_pb.CancelOrderRequest(name=name, request_id=self._request_id())
        self._clients += 1

        async def cancel() -> None:
            try:
                for attempt in range(3):
                    try:
                        await stub.CancelOrder(request, timeout=CLIENT_TIMEOUT_SECS)
                    except grpc.aio.AioRpcError as error:
                        if error.code() not in _RETRYABLE:
                            return
                        await asyncio.sleep(1.0 + attempt)
                        continue
                    return
            finally:
                self._clients -= 1

        self.world.client.start(cancel(), "cancel")
        return f"cancel {name}"

    # ---------------------------------------------------------------- drain

    async def _drain(self, observer: Observer) -> None:
        """Faults stop, every service runs again, traders stop: everything in flight finishes."""
        world, loop = self.world, self.world.loop
        for name in world.down:
            await world.restart(name)
            self.outcome.trace.append(f"drain: restart {name}")
        until = loop.time() + DRAIN_SECS
        problems: list[str] = ["not checked"]
        while loop.time() < until and not world.failures:
            await self._fifo(lambda: False, limit_secs=2.0)
            problems = await observer.eventual()
            if not problems and self._clients == 0:
                break
        if world.failures:
            return
        facts = await observer.facts()
        self.outcome.trades = len(facts.trades)
        if problems:
            world.fail(f"after the drain ({loop.time():.0f} s): " + problems[0])
            self.outcome.failures += problems[1:]
            return
        mismatches = await self._reconcile()
        if mismatches:
            world.fail("Reconcile is not clean: " + "; ".join(mismatches[:5]))

    async def _reconcile(self) -> list[str]:
        stub = settlement_grpc.SettlementServiceStub(self._channel("settlement", OPERATOR))
        answer: list[Any] = []

        async def ask() -> None:
            response = await stub.Reconcile(settlement_pb.ReconcileRequest(request_id=self._request_id()),
                                            metadata=[("authorization", token_of(OPERATOR))])
            answer.append(response)

        task = self.world.client.start(ask(), "reconcile")
        await self._fifo(task.done, limit_secs=30.0)
        if not task.done():
            return ["Reconcile did not answer"]
        if task.exception() is not None:
            return [f"Reconcile failed: {task.exception()!r}"]
        return list(answer[0].mismatches)


_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED})


def _trader(name: str) -> Principal:
    return Principal(account=name, roles=frozenset({"trader"}))


def _quiet_logs() -> Callable[[], None]:
    """The services log every retry and every refused call; a run's output is its outcome."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL + 1)
    clearmesh = logging.getLogger("clearmesh")
    clearmesh_level = clearmesh.level
    clearmesh.setLevel(logging.CRITICAL + 1)

    def restore() -> None:
        root.setLevel(level)
        clearmesh.setLevel(clearmesh_level)

    return restore


def _cancel_everything(loop: SimLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        # They unwind at their next turn; time does not move, so no poller runs again.
        loop.idle_hook = lambda _timeout: loop.stop()
        with contextlib.suppress(Exception):
            loop.run_forever()


def run_seed(seed: int, steps: int, **options: Any) -> Outcome:
    return Simulation(seed, steps, **options).run()

