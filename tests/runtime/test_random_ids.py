"""Random ids drawn from a buffer of the OS's randomness (services/runtime/random_ids.py): the
UUID4s `uuid.uuid4()` makes, never repeated, not even by a forked child."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from services.runtime import random_ids


def test_an_id_is_a_random_uuid() -> None:
    made = random_ids.uuid4()
    assert (made.version, made.variant) == (4, uuid.RFC_4122)


def test_ids_do_not_repeat_across_many_reads_of_the_source() -> None:
    made = [random_ids.uuid4() for _ in range(10 * 256 + 7)]
    assert len(set(made)) == len(made)


# Forked in a fresh interpreter: this test process runs gRPC's and the span exporter's threads,
# and a child forked from it runs their libraries' at-fork hooks (OpenTelemetry's re-reads its
# resource), which crashed the child once in CI before it could answer.
_FORK = """
import os, sys
from services.runtime import random_ids
random_ids.uuid4()  # the buffer is filled, and the child inherits it
reader, writer = os.pipe()
child = os.fork()
if child == 0:
    os.write(writer, random_ids.uuid4().bytes)
    os._exit(0)
os.close(writer)
childs = os.read(reader, 16)
os.waitpid(child, 0)
sys.stdout.write(childs.hex() + " " + random_ids.uuid4().bytes.hex())
"""


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ran = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True, check=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    childs, parents = ran.stdout.split()
    assert len(bytes.fromhex(childs)) == 16
    assert childs != parents
