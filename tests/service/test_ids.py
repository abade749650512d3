"""Hot-path ids: well-formed, and distinct across many draws and across a fork."""

from __future__ import annotations

import os
import uuid

from service.ids import random_hex, random_uuid


def test_ids_are_version_4_uuids_and_distinct() -> None:
    ids = [random_uuid() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {u.version for u in ids} == {4}
    assert {u.variant for u in ids} == {uuid.RFC_4122}
    hexes = [random_hex() for _ in range(10_000)]
    assert len(set(hexes)) == len(hexes)
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in hexes)


def test_a_forked_child_does_not_repeat_the_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, random_hex().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert child != random_hex()
