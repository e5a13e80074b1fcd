"""Random ids drawn from a buffer of the OS's randomness (services/runtime/random_ids.py): the
UUID4s `uuid.uuid4()` makes, never repeated, not even by a forked child."""

from __future__ import annotations

import os
import uuid

from services.runtime import random_ids


def test_an_id_is_a_random_uuid() -> None:
    made = random_ids.uuid4()
    assert (made.version, made.variant) == (4, uuid.RFC_4122)


def test_ids_do_not_repeat_across_many_reads_of_the_source() -> None:
    made = [random_ids.uuid4() for _ in range(10 * 256 + 7)]
    assert len(set(made)) == len(made)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    random_ids.uuid4()  # the buffer is filled, and the child inherits it
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits at once
        os.write(writer, random_ids.uuid4().bytes)
        os._exit(0)
    os.close(writer)
    try:
        childs = uuid.UUID(bytes=os.read(reader, 16))
    finally:
        os.close(reader)
        os.waitpid(child, 0)
    assert childs != random_ids.uuid4()
