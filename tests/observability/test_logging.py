"""Log lines as operators and Loki see them: JSON with request context, never secrets or text."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import yaml

from service.observability.logging import JsonFormatter
from tests.observability.catalogue import MONITORING
from tests.service.conftest import Api, api, sqlite_settings  # noqa: F401 - fixtures

TEXT = "Confidential launch plan for project Zebra-42"


class Collect(logging.Handler):
    """Formats at emit time, inside the request's context, as the stdout handler does."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Collect]:
    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def access_line(lines: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    matching = [e for e in lines if e.get("request_id") == request_id and "route" in e]
    assert len(matching) == 1, lines
    return matching[0]


async def test_access_line_has_request_context_and_no_secrets(api: Api, logs: Collect) -> None:  # noqa: F811
    ok = await api.client.post(
        "/api/v1/translate",
        json={"text": TEXT, "target_lang": "es"},
        headers={**api.headers, "X-Request-ID": "obs-req-1"},
    )
    assert ok.status_code == 200, ok.text
    bad_key = "utp_this-key-does-not-exist-0123456789"
    denied = await api.client.post(
        "/api/v1/translate",
        json={"text": TEXT, "target_lang": "es"},
        headers={"X-API-Key": bad_key, "X-Request-ID": "obs-req-2"},
    )
    assert denied.status_code == 401

    entries = [json.loads(line) for line in logs.lines]
    line = access_line(entries, "obs-req-1")
    assert line["level"] == "info" and line["message"] == "request"
    assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None
    assert line["route"] == "/api/v1/translate" and line["method"] == "POST"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert re.fullmatch(r"[0-9a-f-]{36}", line["workspace_id"])

    refused = access_line(entries, "obs-req-2")
    assert refused["status"] == 401 and "workspace_id" not in refused

    everything = "\n".join(logs.lines)
    for secret in (api.key, bad_key, TEXT, "Zebra-42"):
        assert secret not in everything


async def test_health_probes_and_scrapes_do_not_flood_the_logs(api: Api, logs: Collect) -> None:  # noqa: F811
    for path in ("/health/live", "/metrics"):
        assert (await api.client.get(path)).status_code == 200
    assert not [line for line in logs.lines if '"route": "/' in line]


def pipeline() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((MONITORING / "logging.yaml").read_text())
    return data


def test_loki_keeps_logs_30_days() -> None:
    assert pipeline()["loki"]["retention_period"] == f"{30 * 24}h"


def test_promtail_labels_stay_low_cardinality() -> None:
    stages = pipeline()["promtail"]["pipeline_stages"]
    allow = next(s["labelallow"] for s in stages if "labelallow" in s)
    assert set(allow) == {"app", "namespace", "level"}
    utp = next(s["match"] for s in stages if "match" in s)
    assert utp["selector"] == '{app="utp"}'
    labels = next(s["labels"] for s in utp["stages"] if "labels" in s)
    assert set(labels) == {"level"}
    timestamp = next(s["timestamp"] for s in utp["stages"] if "timestamp" in s)
    assert timestamp["source"] == "timestamp"


def test_grafana_links_request_ids_found_in_real_log_lines() -> None:
    from service.observability.logging import request_id_var

    token = request_id_var.set("abc.123:def-4")
    try:
        record = logging.LogRecord("utp.access", logging.INFO, __file__, 1, "request", None, None)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    field = pipeline()["grafana"]["datasource"]["jsonData"]["derivedFields"][0]
    match = re.search(field["matcherRegex"], line)
    assert match is not None and match.group(1) == "abc.123:def-4"
    assert field["datasourceUid"] == pipeline()["grafana"]["datasource"]["uid"]
    # The line's own timestamp format is what the Promtail stage parses (RFC 3339).
    datetime.fromisoformat(json.loads(line)["timestamp"])


class _CountingStream:
    def __init__(self) -> None:
        self.buffer = ""
        self.delivered: list[str] = []

    def write(self, text: str) -> None:
        self.buffer += text

    def flush(self) -> None:
        if self.buffer:
            self.delivered.append(self.buffer)
            self.buffer = ""


async def test_stdout_lines_of_one_loop_iteration_leave_together() -> None:
    import asyncio

    from service.observability.logging import IterationFlushHandler

    stream = _CountingStream()
    handler = IterationFlushHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("utp.test.flush")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for i in range(3):
            logger.info("request %d", i)
        assert stream.delivered == []  # written, waiting for the end of the iteration
        await asyncio.sleep(0)
        assert len(stream.delivered) == 1
        assert [json.loads(x)["message"] for x in stream.delivered[0].splitlines()] == [
            "request 0",
            "request 1",
            "request 2",
        ]
        logger.warning("disk almost full")  # warnings do not wait
        assert json.loads(stream.delivered[-1])["message"] == "disk almost full"
        await asyncio.to_thread(logger.info, "from a worker thread")  # no loop there: at once
        assert json.loads(stream.delivered[-1])["message"] == "from a worker thread"
    finally:
        logger.removeHandler(handler)
