"""`utp usage dead-letters`: the usage events the database refused, as the outbox kept them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import click
import msgspec

from service.settings import Settings, SettingsError
from service.usage.recorder import Event


def dead_letters(directory: Path) -> list[dict[str, Any]]:
    """Every dead letter in the outbox journals of `directory`, oldest first per journal.

    Read-only and without the journals' locks: a running replica keeps writing its own."""
    found: list[dict[str, Any]] = []
    decoder = msgspec.msgpack.Decoder(Event)
    for path in sorted(directory.glob("usage-outbox-*.db")):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT seq, body, reason, set_aside_at FROM dead_letter ORDER BY seq"
            ).fetchall()
        except sqlite3.OperationalError:
            rows = []  # a journal from before dead letters existed
        finally:
            conn.close()
        for seq, body, reason, at in rows:
            try:
                event: Any = msgspec.to_builtins(decoder.decode(body))
            except msgspec.DecodeError:
                event = None
            found.append(
                {
                    "journal": path.name,
                    "seq": seq,
                    "reason": reason,
                    "set_aside_at": at,
                    "event": event,
                }
            )
    return found


@click.group("usage")
def usage_group() -> None:
    """The usage ledger's outbox."""


@usage_group.command("dead-letters")
def dead_letters_command() -> None:
    """Print the usage events the database refused for their content (JSON, one per line)."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    for letter in dead_letters(settings.server.data_dir):
        # ensure_ascii: a NUL or control character is shown escaped, not sent to the terminal.
        click.echo(json.dumps(letter, default=str, ensure_ascii=True))


COMMANDS: list[click.Command] = [usage_group]
