"""`utp-infra`: offline plan, policy check, deploy and rollback of the Pulumi stacks."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import pulumi  # noqa: F401
    except ImportError:
        sys.exit("utp-infra needs the platform dependencies: .venv/bin/pip install -e '.[infra]'")
    sys.exit("utp-infra: no commands yet")


if __name__ == "__main__":
    main()
