"""The processes of a run: PostgreSQL, Redis, the fake provider, our service, the baseline app,
Apertium APy, and the load generator. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def wait_http(url: str, timeout: float = 90.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def http_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.loads(response.read() or b"null")


@contextlib.contextmanager
def process(
    args: list[str], *, env: dict[str, str] | None = None, log: Path | None = None, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def fake_provider(latency: float) -> Iterator[str]:
    port = free_port()
    args = [PYTHON, "-m", "bench.fake_provider", "--port", str(port), "--latency", str(latency)]
    with process(args) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_stats", proc=proc)
        yield url


def provider_stats(url: str) -> dict[str, Any]:
    result: dict[str, Any] = http_json("GET", f"{url}/_stats")
    return result


def set_latency(url: str, seconds: float) -> None:
    data = str(seconds).encode()
    request = urllib.request.Request(f"{url}/_latency", data=data, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
        pass


@contextlib.contextmanager
def service(
    workdir: Path, *, database_url: str, redis_url: str, key: str, extra: dict[str, str]
) -> Iterator[tuple[str, float]]:
    """`utp serve` as deployed (production settings, JSON logs to a file); yields its URL and
    how long it took to become ready."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="utp-bench-", dir=workdir))
    env = {
        "UTP_ENVIRONMENT": "production",
        "UTP_SECRET_KEY": secrets.token_urlsafe(48),
        "UTP_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "UTP_BOOTSTRAP_API_KEY": key,
        "UTP_DATA_DIR": str(data_dir),
        "UTP_DATABASE_URL": database_url,
        "UTP_REDIS_URL": redis_url,
        # Rate limiting stays on (a Redis round trip per request) but must not refuse the load.
        "UTP_RATE_LIMIT_KEY_PER_MINUTE": "1000000000",
        "UTP_RATE_LIMIT_KEY_PER_HOUR": "1000000000",
        **extra,
    }
    started = time.monotonic()
    args = [str(BIN / "utp"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, env=env, log=workdir / f"service-{port}.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health/ready", timeout=180, proc=proc)
        yield url, time.monotonic() - started


def serve_rss_mb(url: str) -> float | None:
    """Resident memory of the `utp serve` process listening at `url` (Linux /proc)."""
    port = url.rsplit(":", 1)[-1]
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            args = (proc_dir / "cmdline").read_bytes().split(b"\0")
            status = (proc_dir / "status").read_text()
        except OSError:
            continue
        if b"serve" in args and port.encode() in args:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    return None


@contextlib.contextmanager
def baseline(redis_url: str, workdir: Path) -> Iterator[str]:
    port = free_port()
    args = [PYTHON, "-m", "bench.baseline", "--port", str(port), "--redis-url", redis_url]
    with process(args, log=workdir / "baseline.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/schema", proc=proc)
        yield url


def apy_command() -> str | None:
    return shutil.which("apertium-apy")


@contextlib.contextmanager
def apy(workdir: Path, pipes: int) -> Iterator[str]:
    command = apy_command()
    if command is None:
        raise RuntimeError("apertium-apy is not installed (apt-get install apertium-apy)")
    port = free_port()
    args = [
        command,
        "-p",
        str(port),
        "-j",
        "1",
        "-i",
        str(pipes),
        "-n",
        str(pipes),
        "/usr/share/apertium/modes",
    ]
    with process(args, log=workdir / "apy.log", cwd=workdir) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/listPairs", proc=proc, timeout=60)
        yield url


def load(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one job in a separate load-generator process."""
    completed = subprocess.run(
        [PYTHON, "-m", "bench.load"],
        input=json.dumps(job).encode(),
        capture_output=True,
        timeout=timeout,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result
