"""Build a stack's resource graph in-process under Pulumi's mocks: no CLI, no credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func

from stacks.config import PROJECT, StackConfig, load_stack_config
from stacks.graph import RecordedResource
from stacks.mocks import RecordingMocks, RecordingMonitor


def run_under_mocks(
    program: Callable[[], object], *, stack: str, project: str = PROJECT
) -> list[RecordedResource]:
    """Run `program` against fresh mocks on a private event loop; return what it registered."""
    previous_loop = _current_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        mocks = RecordingMocks()
        monitor = RecordingMonitor(mocks)
        # A new root Stack per run, so several stacks can be built in one process.
        runtime_settings.ROOT.set(None)
        runtime_settings.SETTINGS.outputs.clear()
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, monitor=monitor
        )

        def body() -> None:
            program()

        loop.run_until_complete(run_pulumi_func(body))
        return sorted(monitor.recorded, key=lambda r: r.urn)
    finally:
        runtime_settings.ROOT.set(None)
        runtime_settings.SETTINGS.outputs.clear()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(previous_loop)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None


def build_graph(stack: str, config: StackConfig | None = None) -> list[RecordedResource]:
    """The resource graph `pulumi preview` would register for `stack` (config from its file)."""
    from stacks.program import program

    cfg = config if config is not None else load_stack_config(stack)
    return run_under_mocks(lambda: program(cfg, stack=stack), stack=stack)
