"""Preconditions, the run of a plan of steps (check, then apply only what is not done), and
the report and timeline it leaves."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stacks.dr.aws import RegionUnreachable, error_code
from stacks.dr.names import DrNames, RegionNames
from stacks.dr.state import (
    Context,
    db_instance,
    fenced_at,
    reachable,
    replica_lag_seconds,
    replicates_from,
    role_of,
)
from stacks.dr.steps import Step, StepFailed, failback_steps, failover_steps

# The promise (docs/operations.md): at most 5 minutes of writes lost.
RPO_SECONDS = 300

# Outcomes of a step.
ALREADY_DONE = "already_done"  # its effect held before the run: nothing called
WOULD_RUN = "would_run"  # --dry-run: not done yet, would be applied
DONE = "done"  # applied now, and the check confirms it
DEFERRED = "deferred"  # its region's APIs are down: re-run the command later to finish it
FAILED = "failed"  # the run stops here; re-run to resume once the cause is fixed
NOT_REACHED = "not_reached"  # after a failed step
UNKNOWN = "unknown"  # --dry-run without AWS access (no credentials, access denied): not read


@dataclass
class StepResult:
    step: str
    region: str
    calls: str
    outcome: str
    detail: str


@dataclass
class Report:
    action: str
    stack: str
    dry_run: bool
    refused: list[str] = field(default_factory=list)
    # A dry run that could not read AWS (no credentials, access denied): why; the plan is shown
    # with every step's state unknown.
    unread: str = ""
    steps: list[StepResult] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every step's effect holds (a dry run: nothing refused or failed)."""
        good = {ALREADY_DONE, DONE, WOULD_RUN} if self.dry_run else {ALREADY_DONE, DONE}
        return not self.refused and all(s.outcome in good for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "stack": self.stack,
            "dry_run": self.dry_run,
            "complete": self.complete,
            "refused": self.refused,
            "unread": self.unread,
            "steps": [asdict(s) for s in self.steps],
            "timeline": self.timeline,
        }


def _event(ctx: Context, report: Report, event: str, **data: Any) -> None:
    report.timeline.append(
        {"at": ctx.now().isoformat(timespec="milliseconds"), "event": event, **data}
    )


def run(report: Report, steps: list[Step], ctx: Context) -> Report:
    """Check each step; apply it unless done (or a dry run); confirm by checking again."""
    _event(ctx, report, "start", action=report.action, dry_run=report.dry_run)
    stopped = False
    for step in steps:
        result = StepResult(step.name, step.region, step.calls, NOT_REACHED, "")
        report.steps.append(result)
        if stopped:
            continue
        try:
            before = step.check(ctx)
            if before.done:
                result.outcome, result.detail = ALREADY_DONE, before.detail
            elif report.dry_run:
                result.outcome, result.detail = WOULD_RUN, before.detail
            else:
                _event(ctx, report, "apply", step=step.name)
                step.apply(ctx)
                after = step.check(ctx)
                result.outcome = DONE if after.done else FAILED
                result.detail = after.detail
        except RegionUnreachable as exc:
            result.outcome = DEFERRED if step.deferrable else FAILED
            result.detail = str(exc)
        except (ClientError, StepFailed, LookupError) as exc:
            result.outcome, result.detail = FAILED, str(exc)
        _event(ctx, report, "step", step=step.name, outcome=result.outcome, detail=result.detail)
        stopped = result.outcome == FAILED
    _event(ctx, report, "end", complete=report.complete)
    return report


# --- preconditions -----------------------------------------------------------------------------


def _cluster_active(ctx: Context, region: RegionNames) -> str | None:
    try:
        found = ctx.clients.call("eks", region.region, "describe_cluster", name=region.cluster)
    except ClientError as exc:
        return f"EKS cluster {region.cluster}: {error_code(exc)}"
    status = found["cluster"]["status"]
    return None if status == "ACTIVE" else f"EKS cluster {region.cluster} is {status}, not ACTIVE"


def _secret_readable(ctx: Context, region: RegionNames) -> list[str]:
    """The pods of `region` read the master credentials from their own region's copy of the
    secret (a replica in the DR region, readable without the primary region)."""
    secret = ctx.names.master_secret
    try:
        ctx.clients.call("secretsmanager", region.region, "describe_secret", SecretId=secret)
    except ClientError as exc:
        return [f"secret {secret} in {region.region}: {error_code(exc)}"]
    return []


def failover_refusals(ctx: Context) -> list[str]:
    """Why a failover to the DR region cannot start (empty: it can)."""
    n = ctx.names
    if not reachable(ctx, n.dr.region):
        return [f"{n.dr.region} APIs do not answer: the failover needs them"]
    reasons = []
    instance = db_instance(ctx, n.dr)
    if instance is None:
        reasons.append(f"{n.dr.database} does not exist in {n.dr.region}")
    elif role_of(instance) == "replica" and not replicates_from(instance, n.primary):
        reasons.append(
            f"{n.dr.database} replicates from {instance['ReadReplicaSourceDBInstanceIdentifier']},"
            f" not from {n.primary.database}"
        )
    elif fenced_at(ctx, n.dr.region, instance) is not None:
        # After a failback the old DR instance is a fenced standalone: failing over to it
        # would fence the live primary and route to a database nobody may write.
        reasons.append(
            f"{n.dr.database} is fenced (a failback left it behind): rebuild it as a replica"
            " first (docs/operations.md#dr-reconcile)"
        )
    reasons.extend(_secret_readable(ctx, n.dr))
    cluster = _cluster_active(ctx, n.dr)
    if cluster:
        reasons.append(cluster)
    return reasons


def rebuild_commands(
    names: DrNames, old: dict[str, Any] | None, source: dict[str, Any] | None
) -> list[str]:
    """How the lost region comes back as a replica of the promoted one, by hand: the old
    instance is renamed aside (kept until nobody needs its data) and a cross-region replica
    takes its name, subnet group, security groups, parameter group and key."""
    home, current = names.primary, names.dr

    def of_old(value: Any) -> str:
        return str(value) if old is not None else f"<{home.database}'s>"

    groups = " ".join(g["VpcSecurityGroupId"] for g in (old or {}).get("VpcSecurityGroups", []))
    params = (old or {}).get("DBParameterGroups") or [{}]
    return [
        f"aws rds modify-db-instance --region {home.region} --db-instance-identifier"
        f" {home.database} --new-db-instance-identifier {home.database}-old --apply-immediately",
        f"aws rds create-db-instance-read-replica --region {home.region}"
        f" --db-instance-identifier {home.database} --source-region {current.region}"
        " --source-db-instance-identifier"
        f" {(source or {}).get('DBInstanceArn', f'<ARN of {current.database}>')}"
        f" --db-instance-class {of_old((old or {}).get('DBInstanceClass'))}"
        f" --kms-key-id {of_old((old or {}).get('KmsKeyId'))}"
        " --db-subnet-group-name"
        f" {of_old((old or {}).get('DBSubnetGroup', {}).get('DBSubnetGroupName'))}"
        f" --vpc-security-group-ids {of_old(groups)}"
        f" --db-parameter-group-name {of_old(params[0].get('DBParameterGroupName'))}",
    ]


def failback_refusals(ctx: Context) -> list[str]:
    """Why a failback to the configured primary region cannot start (empty: it can)."""
    n = ctx.names
    home, current = n.primary, n.dr
    down = [r for r in (current.region, home.region) if not reachable(ctx, r)]
    if down:
        return [f"{', '.join(down)} APIs do not answer: a failback needs both regions"]
    reasons = []
    now_primary = db_instance(ctx, current)
    if now_primary is None or role_of(now_primary) != "primary":
        reasons.append(
            f"{current.database} is {role_of(now_primary)}: there was no failover to undo"
        )
    rebuilt = db_instance(ctx, home)
    resuming = (
        # An interrupted failback: the home database already promoted (and unfenced), the
        # other one fenced.
        rebuilt is not None
        and now_primary is not None
        and role_of(rebuilt) == "primary"
        and fenced_at(ctx, home.region, rebuilt) is None
        and fenced_at(ctx, current.region, now_primary) is not None
    )
    if not resuming:
        reasons.extend(_replica_ready(ctx, rebuilt, now_primary))
    reasons.extend(_secret_readable(ctx, home))
    cluster = _cluster_active(ctx, home)
    if cluster:
        reasons.append(cluster)
    return reasons


def _replica_ready(
    ctx: Context, rebuilt: dict[str, Any] | None, now_primary: dict[str, Any] | None
) -> list[str]:
    """The home region's database must replicate from the current primary, within the RPO."""
    n = ctx.names
    home, current = n.primary, n.dr
    reasons = []
    if rebuilt is None or not replicates_from(rebuilt, current):
        reasons.append(
            f"{home.database} is not a read replica of {current.database}: rebuild it first:\n  "
            + "\n  ".join(rebuild_commands(n, rebuilt, now_primary))
        )
    else:
        lag = replica_lag_seconds(ctx, home)
        if lag is None:
            reasons.append(f"{home.database}: no ReplicaLag datapoint in 15 minutes")
        elif lag > RPO_SECONDS:
            reasons.append(f"{home.database}: ReplicaLag {lag:.0f} s > {RPO_SECONDS} s")
    return reasons


def failover(ctx: Context, *, stack: str, dry_run: bool) -> Report:
    report = Report("failover", stack, dry_run)
    steps = failover_steps(ctx.names.primary, ctx.names.dr)
    return _guarded(report, steps, ctx, failover_refusals)


def failback(ctx: Context, *, stack: str, dry_run: bool) -> Report:
    report = Report("failback", stack, dry_run)
    steps = failback_steps(ctx.names.dr, ctx.names.primary)
    return _guarded(report, steps, ctx, failback_refusals)


def _guarded(report: Report, steps: list[Step], ctx: Context, refusals: Any) -> Report:
    try:
        report.refused = refusals(ctx)
    except RegionUnreachable as exc:
        report.refused = [str(exc)]
    except (BotoCoreError, ClientError) as exc:
        if not report.dry_run:
            raise
        # The plan is worth printing without AWS access (reviewing it before an incident,
        # from a laptop with no credentials): its steps, their calls, and why state is missing.
        report.unread = f"AWS state not read ({exc}): every step shown as unknown"
        _event(ctx, report, "unread", reason=report.unread)
        report.steps = [StepResult(s.name, s.region, s.calls, UNKNOWN, "") for s in steps]
        return report
    if report.refused:
        _event(ctx, report, "refused", reasons=report.refused)
        report.steps = [StepResult(s.name, s.region, s.calls, NOT_REACHED, "") for s in steps]
        return report
    return run(report, steps, ctx)
