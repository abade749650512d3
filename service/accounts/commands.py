"""`utp workspaces ...` and `utp keys ...`: the operator's commands (direct database access).

Operator keys (`--operator`, every workspace) can only be minted here: whoever runs this already
holds the database credentials.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import ServiceError
from service.settings import Settings, SettingsError

T = TypeVar("T")
CLI_ACTOR = "cli:operator"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction against the configured database."""
    from service.db.session import create_engine, session_factory

    settings = _settings()

    async def go() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, default=str, indent=2))


@click.group("workspaces")
def workspaces_group() -> None:
    """Workspaces (tenants)."""


@workspaces_group.command("create")
@click.argument("name")
def workspaces_create(name: str) -> None:
    """Create workspace NAME and print its admin API key (shown only once)."""
    from service.accounts import workspaces

    if not name.strip() or len(name) > 200:
        raise click.ClickException("the workspace name must be 1 to 200 characters")

    async def work(session: AsyncSession) -> tuple[uuid.UUID, str]:
        try:
            issued = await workspaces.create(session, name, actor=CLI_ACTOR)
        except ServiceError as exc:
            if exc.code == "workspace_exists":
                raise click.ClickException(f"a workspace named {name!r} already exists") from None
            raise
        return issued.workspace_id, issued.key

    workspace_id, key = _run(work)
    click.echo(f"workspace {name} ({workspace_id}) created")
    click.echo(f"admin API key (shown only once): {key}")


@workspaces_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def workspaces_list(as_json: bool) -> None:
    """List every workspace."""
    from service.accounts import workspaces

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [workspaces.describe(w) for w in await workspaces.list_all(session)]

    from service.observability.metrics import workspace_label

    secret = _settings().security.secret_key.get()
    rows = [{**row, "metrics_label": workspace_label(secret, row["id"])} for row in _run(work)]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']}  {row['name']}  created {row['created_at']:%Y-%m-%d}  "
            f"metrics {row['metrics_label']}"
        )


@workspaces_group.command("rename")
@click.argument("name")
@click.argument("new_name")
def workspaces_rename(name: str, new_name: str) -> None:
    """Rename workspace NAME to NEW_NAME."""
    from service.accounts import workspaces

    async def work(session: AsyncSession) -> None:
        workspace = await workspaces.by_name(session, name)
        await workspaces.rename(session, workspace.id, new_name, actor=CLI_ACTOR)

    _run(work)
    click.echo(f"workspace {name} renamed to {new_name}")


@workspaces_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def workspaces_delete(name: str, yes: bool) -> None:
    """Delete workspace NAME with its keys, users, settings and usage."""
    from service.accounts import workspaces

    if not yes:
        click.confirm(f"Delete workspace {name} and everything it owns?", abort=True)

    async def work(session: AsyncSession) -> None:
        workspace = await workspaces.by_name(session, name)
        await workspaces.delete(session, workspace.id, actor=CLI_ACTOR)

    _run(work)
    click.echo(f"workspace {name} deleted")


@click.group("keys")
def keys_group() -> None:
    """A workspace's API keys."""


@keys_group.command("create")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name.")
@click.option("--name", "key_name", default=None, help="What the key is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["translate", "admin", "read:usage"]),
    help="Repeatable; default translate.",
)
@click.option("--operator", is_flag=True, help="A platform operator key (every workspace).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None)
def keys_create(
    workspace_name: str,
    key_name: str | None,
    scopes: tuple[str, ...],
    operator: bool,
    expires_in_days: int | None,
) -> None:
    """Create an API key and print it (shown only once)."""
    from service.accounts import apikeys, workspaces

    granted = list(scopes) or ["translate"]
    if operator:
        granted = ["operator", *[s for s in granted if s != "operator"]]

    async def work(session: AsyncSession) -> tuple[uuid.UUID, str]:
        workspace = await workspaces.by_name(session, workspace_name)
        issued = await apikeys.create(
            session,
            workspace.id,
            name=key_name or ("operator" if operator else "cli"),
            scopes=granted,
            expires_in_days=expires_in_days,
            actor=CLI_ACTOR,
            allow_operator=True,
        )
        return issued.key_id, issued.key

    key_id, key = _run(work)
    click.echo(f"API key {key_id} ({' '.join(granted)}) created in {workspace_name}")
    click.echo(f"API key (shown only once): {key}")


@keys_group.command("list")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keys_list(workspace_name: str, as_json: bool) -> None:
    """List a workspace's keys with their scopes, status and last use."""
    from service.accounts import apikeys, workspaces

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        workspace = await workspaces.by_name(session, workspace_name)
        return [apikeys.describe(k) for k in await apikeys.list_keys(session, workspace.id)]

    rows = _run(work)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        used = row["last_used_at"] or "never"
        click.echo(
            f"{row['id']}  {row['prefix']}  {row['name']}  [{' '.join(row['scopes'])}]  "
            f"{row['status']}  last used {used}"
        )


@keys_group.command("revoke")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name.")
@click.argument("key_id")
def keys_revoke(workspace_name: str, key_id: str) -> None:
    """Revoke key KEY_ID (running servers stop accepting it within UTP_API_KEY_CACHE_SECONDS)."""
    from service.accounts import apikeys, workspaces

    async def work(session: AsyncSession) -> None:
        workspace = await workspaces.by_name(session, workspace_name)
        await apikeys.revoke(
            session, workspace.id, workspaces.parse_id(key_id, "API key"), actor=CLI_ACTOR
        )

    _run(work)
    click.echo(f"API key {key_id} revoked")


COMMANDS: list[click.Command] = [workspaces_group, keys_group]
