"""`utp-infra` subcommands; each module exposes one click command named `command`."""
