"""`wrk` (C, one thread) for the throughput runs of the cached path: the Python load generator
would saturate before the server does. Bodies rotate through a list, via a Lua script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    level = "=" * 4
    return f"[{level}[{text}]{level}]"


def script(path: str, headers: dict[str, str], bodies: list[str]) -> str:
    header_lines = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
    body_lines = ",\n".join(_lua_string(b) for b in bodies)
    return f"""
local bodies = {{
{body_lines}
}}
local headers = {{ {header_lines} }}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", {_lua_string(path)}, headers, bodies[i])
end
"""


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> dict[str, Any]:
    latency: dict[str, float] = {}
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE):
        latency[f"p{pct}"] = round(_ms(value), 3)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "count": total,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "latency_ms": latency,
    }


def run(
    url: str,
    path: str,
    headers: dict[str, str],
    bodies: list[str],
    *,
    connections: int,
    seconds: float,
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script(path, {"Content-Type": "application/json", **headers}, bodies))
        lua = handle.name
    try:
        completed = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                lua,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
    finally:
        Path(lua).unlink(missing_ok=True)
    result = parse(completed.stdout)
    result["tool"] = "wrk"
    return result


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
