"""Ports for tests that start real processes: never the default ones (other runs use those)."""

from __future__ import annotations

import socket


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick, released for the caller to bind. Never
    the same one twice in a process: until its caller binds it, a released port may be picked again."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
