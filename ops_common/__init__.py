"""What the service (`utp`) and the platform tools (`utp-infra`) share.

Neither side imports the other: `stacks/` deploys the service without importing `service/`,
and the pieces both need (the health check of a running deployment, how a secret is read from
the environment) live here. This package imports neither `service` nor `stacks`.
"""
