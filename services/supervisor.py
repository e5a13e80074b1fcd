"""`clearmesh up`: every service as its own process, watched.

Each child logs to <data dir>/logs/<name>.log. When all answer SERVING the endpoints are
printed. Ctrl-C or SIGTERM stops them all gracefully; a child that dies is reported with the
end of its log and brings the whole mesh down with a non-zero exit — never hidden. Either way
the last line says what stopped and how, so a terminal that went quiet is never a mystery.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.runtime.health import serving
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
        return await serving(channel)


async def _http_ok(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split("/")[0].rsplit(":", 1)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
    except (OSError, TimeoutError):
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
    received: list[signal.Signals] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)

    processes: dict[str, asyncio.subprocess.Process] = {}
    code = 0
    died: str | None = None  # the child whose exit brought the mesh down
    try:
        for child in children:
            log_file = (logs / f"{child.name}.log").open("ab")
            # Own session: a Ctrl-C reaches `up` only, which then stops the children in order.
            # Every child is started before the first health check opens a gRPC channel: on
            # uvloop this is a fork(), and once gRPC runs threads here its fork handlers restart
            # them in the child, which can crash before its exec.
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
                died = died or name
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
        running = [name for name, process in processes.items() if process.returncode is None]
        killed = await _stop_all(processes, settings.shutdown_grace_secs + 5)
        line = _stopped_line(received, died, running, killed, processes)
        print(line, file=sys.stderr if code else sys.stdout, flush=True)
    return code


def _stopped_line(received: list[signal.Signals], died: str | None, running: list[str],
                  killed: list[str], processes: dict[str, asyncio.subprocess.Process]) -> str:
    """One line naming what stopped and why: the signal (Ctrl-C is SIGINT) or the child that
    died, how many processes were drained, and any that had to be killed or exited badly."""
    if received:
        cause = "Ctrl-C (SIGINT)" if received[0] == signal.SIGINT else received[0].name
        how = f"{cause} drained {len(running)} processes"
    elif died is not None:
        how = f"{died} exited with code {processes[died].returncode}; drained the other {len(running)} processes"
    else:  # a start that failed or timed out, reported above
        how = f"startup failed; drained {len(running)} processes"
    notes = [f"{name} killed after the grace period" for name in killed]
    # -SIGTERM is a clean end too: uvicorn (the edge) drains, then re-raises the signal it got.
    notes += [f"{name} exited with code {processes[name].returncode}" for name in running
              if name not in killed and processes[name].returncode not in (0, -signal.SIGTERM, None)]
    stopped = ", ".join(running) if running else "none left running"
    return f"clearmesh up stopped: {how} ({stopped})" + "".join(f"; {note}" for note in notes) + "."


async def _stop_all(processes: dict[str, asyncio.subprocess.Process], timeout: float) -> list[str]:
    """SIGTERM to every child still running, SIGKILL to any still there after `timeout`;
    returns the names of those that had to be killed."""
    for process in processes.values():
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes.values())), timeout)
    except TimeoutError:
        killed = [name for name, process in processes.items() if process.returncode is None]
        for name in killed:
            processes[name].kill()
        await asyncio.gather(*(p.wait() for p in processes.values()))
        return killed
    return []
