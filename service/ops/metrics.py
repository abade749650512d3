"""Backup metrics as a node_exporter textfile (no Pushgateway): one file, one line per type."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from service.ops.manifest import Manifest

TEXTFILE_NAME = "utp_backup.prom"
LAST_SUCCESS = "utp_backup_last_success_timestamp_seconds"
LAST_SIZE = "utp_backup_last_size_bytes"
LAST_DURATION = "utp_backup_last_duration_seconds"


def _read(path: Path) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, float]] = {LAST_SUCCESS: {}, LAST_SIZE: {}, LAST_DURATION: {}}
    if not path.is_file():
        return values
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if sample.name in values and "type" in sample.labels:
                values[sample.name][sample.labels["type"]] = sample.value
    return values


def record_backup_success(directory: Path, kind: str, manifest: Manifest) -> Path:
    """Update `utp_backup.prom` atomically (temp file + rename, as the collector expects)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TEXTFILE_NAME
    values = _read(path)
    values[LAST_SUCCESS][kind] = manifest.completed_at.timestamp()
    values[LAST_SIZE][kind] = float(manifest.size)
    values[LAST_DURATION][kind] = (manifest.completed_at - manifest.started_at).total_seconds()

    registry = CollectorRegistry()
    helps = {
        LAST_SUCCESS: "Unix time the last complete backup of this type finished.",
        LAST_SIZE: "Stored size of the last complete backup of this type.",
        LAST_DURATION: "How long the last complete backup of this type took.",
    }
    for name, by_type in values.items():
        gauge = Gauge(name, helps[name], ["type"], registry=registry)
        for label, value in sorted(by_type.items()):
            gauge.labels(type=label).set(value)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".utp_backup.", suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(generate_latest(registry))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
