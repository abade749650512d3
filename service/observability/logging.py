"""Structured JSON logs on stdout, with the request id of the request being served."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
workspace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "workspace_id", default=None
)

# uvicorn adds `color_message` (the message with terminal colour codes): noise in JSON.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        workspace_id = workspace_id_var.get()
        if workspace_id:
            entry["workspace_id"] = workspace_id
        for key in record.__dict__.keys() - _RESERVED:
            if not key.startswith("_") and key not in entry:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


_encode = msgspec.json.Encoder(enc_hook=str).encode


class IterationFlushHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Collects the lines of one event-loop iteration and writes them in one go at its end.

    An access line per request made a write(2) per request a visible share of a cached
    translation's CPU (and stdout is unbuffered in containers, PYTHONUNBUFFERED=1); the lines
    of one loop iteration now leave in one write. A killed process can lose the lines of the
    iteration it died in; warnings and errors, and lines logged outside the event loop, are
    written at once.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._flush_pending = False

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            lines, self._lines = self._lines, []
            self._flush_pending = False
            if lines:
                self.stream.write("".join(lines))
            super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        if record.levelno < logging.WARNING and self._flush_later():
            return
        self.flush()

    def _flush_later(self) -> bool:
        if self._flush_pending:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another thread, or no loop at all
            return False
        self._flush_pending = True
        loop.call_soon(self.flush)
        return True


def configure(level: str = "INFO") -> None:
    # The JSON lines carry none of the caller's file/line, thread or process fields, so do not
    # collect them for every record: with an access line per request that stack walk and those
    # lookups were a few per cent of a cached translation's CPU.
    logging._srcfile = None  # documented switch in the logging module's source
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = IterationFlushHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access lines come from our own middleware, with the request id and bounded fields.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
