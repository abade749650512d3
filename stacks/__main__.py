"""Entry point for `pulumi preview/up` (Pulumi.yaml `main: stacks/`)."""

import pulumi

from stacks.config import load_engine_config
from stacks.program import program

program(load_engine_config(), stack=pulumi.get_stack())
