"""Ports for tests that start real processes: never the default ones (other runs use those)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick, released for the caller to bind."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
