"""`clearmesh up`: every service as its own process, watched.

Each child logs to <data dir>/logs/<name>.log. When all answer SERVING the endpoints are
printed. Ctrl-C or SIGTERM stops them all gracefully; a child that dies is reported with the
end of its log and brings the whole mesh down with a non-zero exit — never hidden.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.settings import Settings, ensure_jwt_secret

READY_TIMEOUT_SECS = 30.0


@dataclass(frozen=True)
class Child:
    name: str
    argv: tuple[str, ...]
    # host:port of its gRPC health service, or None when readiness is an HTTP endpoint.
    grpc_target: str | None
    endpoint: str
    env: dict[str, str] = field(default_factory=dict)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def _serving(target: str) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING


async def _http_ok(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split("/")[0].rsplit(":", 1)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
    except (TimeoutError, OSError):
        return False
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    status = await reader.readline()
    writer.close()
    return b" 200 " in status


async def _wait_ready(child: Child, process: asyncio.subprocess.Process, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"{child.name} exited with code {process.returncode} while starting")
        ready = await (_serving(child.grpc_target) if child.grpc_target else _http_ok(child.endpoint))
        if ready:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{child.name} was not ready within {READY_TIMEOUT_SECS:.0f} s")


async def run(children: list[Child], settings: Settings) -> int:
    ensure_jwt_secret(settings)  # one secret for every child, made before any starts
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    processes: dict[str, asyncio.subprocess.Process] = {}
    code = 0
    try:
        for child in children:
            log_file = (logs / f"{child.name}.log").open("ab")
            # Own session: a Ctrl-C reaches `up` only, which then stops the children in order.
            processes[child.name] = await asyncio.create_subprocess_exec(
                *child.argv, stdout=log_file, stderr=log_file, env={**os.environ, **child.env},
                start_new_session=True)
            log_file.close()
        deadline = loop.time() + READY_TIMEOUT_SECS
        await asyncio.gather(*(_wait_ready(c, processes[c.name], deadline) for c in children))
        width = max(len(c.name) for c in children)
        for child in children:
            print(f"{child.name:<{width}}  {child.endpoint}  pid {processes[child.name].pid}"
                  f"  log: {logs / (child.name + '.log')}")
        print("clearmesh is up; Ctrl-C stops it.", flush=True)

        exits = {asyncio.ensure_future(p.wait()): name for name, p in processes.items()}
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait([stopped, *exits], return_when=asyncio.FIRST_COMPLETED)
        for finished in done:
            if finished in exits:
                name = exits[finished]
                print(f"clearmesh up: {name} exited with code {finished.result()}; stopping the rest.\n"
                      f"--- end of {name}.log ---\n{_tail(logs / f'{name}.log')}", file=sys.stderr)
                code = 1
        stopped.cancel()
    except RuntimeError as exc:
        print(f"clearmesh up: {exc}", file=sys.stderr)
        for name in processes:
            print(f"--- end of {name}.log ---\n{_tail(logs / f'{name}.log', 5)}", file=sys.stderr)
        code = 1
    finally:
        await _stop_all(processes, settings.shutdown_grace_secs + 5)
    return code


async def _stop_all(processes: dict[str, asyncio.subprocess.Process], timeout: float) -> None:
    for process in processes.values():
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes.values())), timeout)
    except TimeoutError:
        for process in processes.values():
            if process.returncode is None:
                process.kill()
        await asyncio.gather(*(p.wait() for p in processes.values()))
