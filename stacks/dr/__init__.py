"""`utp-infra dr`: status, failover and failback between the stack's two regions.

`names` finds the resources the Pulumi program created (by the names it gives them), `aws`
reaches the regions, `state` reads what is true now, `steps` holds each step's check and apply,
`plan` runs them idempotently, `status` reports, `writer` tells which region's database takes
writes (the release's DR state check and its snapshot ask it); the command is
`stacks/commands/dr.py`.
"""
