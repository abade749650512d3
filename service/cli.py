"""`utp`: serve the API, migrate the database, manage workspaces, translate from the shell."""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import sys

import click

from service.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Universal Translator Pro: translation gateway for Rocket.Chat."""


@main.command()
@click.option("--host", default=None, help="Bind address (default UTP_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default UTP_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Run the HTTP API (migrates the database unless UTP_MIGRATE_ON_START=false, and creates
    the default workspace first)."""
    import uvicorn

    from service.app import create_app
    from service.db.migrate import database_revisions, upgrade
    from service.observability.logging import configure

    settings = _settings()
    configure(settings.server.log_level)
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.database.migrate_on_start:
        untouched = upgrade(settings.database_url)
        if untouched:
            logging.getLogger("service.db").warning("schema: %s", untouched)
    elif not asyncio.run(database_revisions(settings.database_url)):
        raise click.ClickException(
            "the database has no schema and UTP_MIGRATE_ON_START=false: run `utp db upgrade` "
            "first (the clusters' migration Job does), or unset UTP_MIGRATE_ON_START"
        )
    issued = asyncio.run(_bootstrap(settings))
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    if issued is not None:
        _announce(
            issued,
            bind_host,
            bind_port,
            seeded=bool(settings.security.bootstrap_api_key),
            production=settings.is_production,
        )
    uvicorn.run(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        workers=None,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=settings.server.keepalive_seconds,
    )


async def _bootstrap(settings: Settings) -> str | None:
    from service.accounts.keys import ensure_default_workspace
    from service.db.session import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        issued = await ensure_default_workspace(
            session_factory(engine), settings.security.bootstrap_api_key.get() or None
        )
    finally:
        await engine.dispose()
    return issued.key if issued else None


def _announce(key: str, host: str, port: int, *, seeded: bool, production: bool) -> None:
    """The first start's greeting. The key itself is printed only when it was just generated
    in development (`make run`): a key from UTP_BOOTSTRAP_API_KEY is already known to whoever
    set it, and production output goes to log collectors, where a key must never land."""
    body = json.dumps({"text": "Good morning, how is the project going?", "target_lang": "es"})
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    if seeded:
        shown, header = "(from UTP_BOOTSTRAP_API_KEY)", "X-API-Key: $UTP_BOOTSTRAP_API_KEY"
    elif production:
        click.echo(
            "\n  Default workspace created. Its admin key is not printed in production: create "
            "one with\n    utp keys create --workspace default --name admin --scope admin\n"
        )
        sys.stdout.flush()
        return
    else:
        shown, header = key, f"X-API-Key: {key}"
    click.echo(
        "\n"
        "  Default workspace created. Its admin API key (shown only this once):\n"
        f"    {shown}\n\n"
        "  Translate something:\n"
        f"    curl -s http://{url_host}:{port}/api/v1/translate \\\n"
        f"      -H \"{header}\" -H 'Content-Type: application/json' \\\n"
        f"      -d {shlex.quote(body)}\n",
        err=False,
    )
    sys.stdout.flush()


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: every head)."""
    from service.db.migrate import upgrade

    settings = _settings()
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    untouched = upgrade(settings.database_url, revision)
    if untouched:
        click.echo(f"database at {_safe_url(settings.database_url)} left as it is: {untouched}")
        return
    click.echo(f"database at {_safe_url(settings.database_url)} is at {revision}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--to", "target", required=True, help="Target language code, e.g. es.")
@click.option("--from", "source", default="auto", show_default=True, help="Source language code.")
@click.option("--tier", type=click.Choice(["economy", "balanced", "premium"]), default=None)
@click.option("--provider", default=None, help="Use only this provider.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@click.argument("text")
def translate(
    target: str, source: str, tier: str | None, provider: str | None, as_json: bool, text: str
) -> None:
    """Translate TEXT with the engine directly (no server, no usage accounting)."""
    from service.errors import ServiceError
    from service.translation.oneshot import translate_once

    settings = _settings()
    try:
        outcome = asyncio.run(
            translate_once(
                settings, text, target=target, source=source, tier=tier, provider=provider
            )
        )
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "translated_text": outcome.text,
                    "source_lang": outcome.source,
                    "target_lang": outcome.target,
                    "provider": outcome.provider,
                    "model": outcome.model,
                    "untranslated": outcome.untranslated,
                    "pivot": list(outcome.pivot),
                },
                ensure_ascii=False,
            )
        )
    else:
        click.echo(outcome.text)


from service.ops.commands import COMMANDS  # noqa: E402 - registered after the core commands

for c in COMMANDS:
    main.add_command(c)

from service.accounts.crypto_commands import COMMANDS as ENCRYPTION_COMMANDS  # noqa: E402

for c in ENCRYPTION_COMMANDS:
    main.add_command(c)

from service.accounts.commands import COMMANDS as ACCOUNT_COMMANDS  # noqa: E402

for c in ACCOUNT_COMMANDS:
    main.add_command(c)

from service.usage.commands import COMMANDS as USAGE_COMMANDS  # noqa: E402

for c in USAGE_COMMANDS:
    main.add_command(c)


if __name__ == "__main__":
    main()
