"""Ids made on every request (request ids, usage event ids), without a system call each.

`uuid.uuid4()` reads the OS's random source for every id; on the cached path that system call
showed up as a few per cent of a request's CPU. These ids only have to be unique, not secret
(they are echoed to clients and stored in the ledger, and knowing one grants nothing), so they
come from a process-local generator seeded from the OS, and reseeded in a forked child so two
processes never share a sequence. For anything secret use `secrets`.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Final

_VERSION_4: Final = 0x4000 << 64  # the version nibble (RFC 9562, section 5.4)
_VARIANT: Final = 0x8000 << 48  # the RFC variant bits
_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))

_random = random.Random(os.urandom(32))  # noqa: S311 - unique, not secret (see above)


def _reseed() -> None:
    _random.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)


def random_uuid() -> uuid.UUID:
    """A version 4 (random) UUID."""
    return uuid.UUID(int=(_random.getrandbits(128) & _CLEAR) | _VERSION_4 | _VARIANT)


def random_hex() -> str:
    """128 random bits as 32 lowercase hex digits (the shape of `uuid4().hex`)."""
    return f"{_random.getrandbits(128):032x}"
