"""Warm Apertium pipelines: a mode's programs kept running in null-flush mode, as APy does.

Each program of a mode (`lt-proc | apertium-tagger | ... | lt-proc -p`) is started once with
`-z`: it translates everything up to a NUL byte, writes the result followed by NUL, flushes
and waits for more. A translation then costs the pipeline's work, not its start-up (loading
a dozen binaries, ~120 ms). Text goes in already in Apertium's stream format (`encode`):
reserved characters escaped, markup sentinels as superblanks `[⟦0⟧]`, which every stage
passes through untouched.

Every chunk written ends with a superblank naming the request (`[utp:<n>]`). A chunk that
comes back without its own marker is stale or truncated (a stage died: the ones after it see
end-of-file and flush what they had), so the pipeline is killed and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from service.translation.markup import CLOSE, OPEN

_RESERVED_RE: Final = re.compile(r"([\^$@/\\\[\]<>{}])")
_SENTINEL_RE: Final = re.compile(rf"{OPEN}\s*\d+\s*{CLOSE}")
_BLANK_RE: Final = re.compile(r"\s+")
_SENTENCE_END: Final = frozenset(".!?…:;")
# A NUL flushes the pipeline; one inside a text would split it in two.
_NUL: Final = "\0"
READ_LIMIT: Final = 16 * 1024 * 1024


class PipelineError(Exception):
    """The pipeline died or answered garbage; it has been killed and will be restarted."""


class PipelineTimeout(PipelineError):
    """The pipeline did not answer in time; it has been killed and will be restarted."""


def parse_mode(path: Path, *, mark_unknown: bool = False) -> list[list[str]]:
    """The argument vectors of a `.mode` file's programs, each in null-flush mode.

    Mode files are shell pipelines with two placeholders that the `apertium` script fills:
    `$1` is the generator's flag (`-g` marks unknown words with `*`, `#` and `@`, `-n` leaves
    them unmarked, which is what `apertium -u` does) and `$2` the tagger's optional `-m`.
    """
    lexer = shlex.shlex(path.read_text(encoding="utf-8"), posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word == "|":
            commands.append([])
        elif word == "$1":
            commands[-1].append("-g" if mark_unknown else "-n")
        elif word != "$2":
            commands[-1].append(word)
    if not all(commands):
        raise ValueError(f"{path}: empty command in mode pipeline")
    return [[argv[0], "-z", *argv[1:]] if "-z" not in argv else argv for argv in commands]


def encode(text: str) -> str:
    """Plain text (with markup sentinels) to Apertium's stream format, as `apertium-destxt`.

    Sentinels become superblanks; whitespace other than single spaces is kept verbatim in
    superblanks; a period and an empty superblank mark where a line ends without
    punctuation, which helps the tagger and transfer; `decode` removes those periods again.
    """
    parts: list[str] = []
    position = 0
    for match in _SENTINEL_RE.finditer(text):
        parts.append(_encode_text(text[position : match.start()]))
        parts.append(f"[{match.group(0)}]")
        position = match.end()
    tail = text[position:]
    parts.append(_encode_text(tail))
    if tail.rstrip() and tail.rstrip()[-1].isalnum():
        parts.append(".[]")
    return "".join(parts)


def _encode_text(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _BLANK_RE.finditer(text):
        out.append(_RESERVED_RE.sub(r"\\\1", text[position : match.start()]))
        blank = match.group(0)
        if blank.count("\n") > 1 and match.start() > 0 and text[match.start() - 1].isalnum():
            out.append(".[]")
        out.append(" " if blank == " " else f"[{blank}]")
        position = match.end()
    out.append(_RESERVED_RE.sub(r"\\\1", text[position:]))
    return "".join(out).replace(_NUL, "")


def decode(stream: str) -> str:
    """Apertium's stream format back to plain text, as `apertium-retxt`."""
    out: list[str] = []
    index = 0
    length = len(stream)
    while index < length:
        char = stream[index]
        if char == "\\" and index + 1 < length:
            out.append(stream[index + 1])
            index += 2
        elif char == "[":
            end = index + 1
            block: list[str] = []
            while end < length and stream[end] != "]":
                if stream[end] == "\\" and end + 1 < length:
                    end += 1
                block.append(stream[end])
                end += 1
            if block:
                out.append("".join(block))
            elif out and out[-1] == ".":
                out.pop()  # the period `encode` added at a line end
            index = end + 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


class Pipeline:
    """One running instance of a mode's programs, connected by OS pipes."""

    _serials = itertools.count()

    def __init__(self, name: str, commands: Sequence[Sequence[str]]) -> None:
        self.name = name
        self._commands = [list(argv) for argv in commands]
        self._processes: list[asyncio.subprocess.Process] = []
        # Killed but maybe not yet reaped; `aclose` waits for them.
        self._dead: list[asyncio.subprocess.Process] = []

    @property
    def running(self) -> bool:
        return bool(self._processes) and all(p.returncode is None for p in self._processes)

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self._processes)

    async def start(self) -> None:
        self.kill()
        upstream: int | None = None
        try:
            for position, argv in enumerate(self._commands):
                last = position == len(self._commands) - 1
                read_end, write_end = (None, None) if last else os.pipe()
                try:
                    process = await asyncio.create_subprocess_exec(
                        *argv,
                        stdin=asyncio.subprocess.PIPE if upstream is None else upstream,
                        stdout=asyncio.subprocess.PIPE if write_end is None else write_end,
                        stderr=asyncio.subprocess.DEVNULL,
                        limit=READ_LIMIT,
                    )
                finally:
                    # The children hold their own copies; ours would keep end-of-file away.
                    for fd in (upstream, write_end):
                        if fd is not None:
                            os.close(fd)
                    upstream = None
                self._processes.append(process)
                upstream = read_end
        except BaseException:
            if upstream is not None:
                os.close(upstream)
            self.kill()
            raise

    async def process(self, chunks: Sequence[str], *, within: float) -> list[str]:
        """Translate stream-format chunks; all are written at once so stages work in parallel."""
        if not self.running:
            await self.start()
        stdin = self._processes[0].stdin
        stdout = self._processes[-1].stdout
        assert stdin is not None and stdout is not None
        markers = [f"[utp:{next(self._serials)}]" for _ in chunks]
        payload = "".join(
            f"{chunk}{marker}{_NUL}" for chunk, marker in zip(chunks, markers, strict=True)
        )

        async def write() -> None:
            stdin.write(payload.encode())
            await stdin.drain()

        async def read() -> list[str]:
            results: list[str] = []
            for marker in markers:
                output = (await stdout.readuntil(_NUL.encode()))[:-1].decode(errors="replace")
                body, found, rest = output.rpartition(marker)
                if not found or rest.strip():
                    raise PipelineError(f"{self.name}: answer without its marker {marker}")
                results.append(body)
            return results

        writer = asyncio.ensure_future(write())
        try:
            async with asyncio.timeout(within):
                results = await read()
                await writer
        except TimeoutError:
            self.kill()
            raise PipelineTimeout(f"{self.name}: no answer within {within:g} s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.kill()
            raise PipelineError(f"{self.name}: pipeline failed ({error!r})") from error
        except BaseException:
            # Cancelled or broken half-way: whatever is in flight must not reach the next caller.
            self.kill()
            raise
        finally:
            writer.cancel()  # a no-op once it has finished
            writer.add_done_callback(_retrieve)
        return results

    def kill(self) -> None:
        for process in self._processes:
            if process.stdin is not None:
                process.stdin.close()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        self._dead = [p for p in self._dead if p.returncode is None] + self._processes
        self._processes = []

    async def aclose(self) -> None:
        self.kill()
        for process in self._dead:
            await process.wait()
        self._dead = []


def _retrieve(task: asyncio.Future[None]) -> None:
    """Mark a failed writer's error as seen: the reader's failure already reported it."""
    if not task.cancelled():
        task.exception()


class PipelinePool:
    """Up to `size` pipelines of one mode, started on demand; callers queue for a free one.

    The most recently used pipeline is handed out first, so a quiet service keeps reusing one
    warm pipeline and a second one starts only when two requests overlap.
    """

    def __init__(
        self, name: str, commands: Sequence[Sequence[str]], *, size: int, timeout: float
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.pipelines = [Pipeline(name, commands) for _ in range(max(1, size))]
        self._idle: asyncio.LifoQueue[Pipeline] = asyncio.LifoQueue()
        for pipeline in reversed(self.pipelines):
            self._idle.put_nowait(pipeline)

    async def translate(self, chunks: Sequence[str]) -> list[str]:
        """Translate stream-format chunks; a dead pipeline is restarted and tried once more."""
        if not chunks:
            return []
        pipeline = await self._idle.get()
        try:
            try:
                return await pipeline.process(chunks, within=self.timeout)
            except PipelineTimeout:
                raise
            except PipelineError:
                return await pipeline.process(chunks, within=self.timeout)
        finally:
            self._idle.put_nowait(pipeline)

    async def aclose(self) -> None:
        for pipeline in self.pipelines:
            await pipeline.aclose()
