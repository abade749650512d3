"""Packs the building host's package-index settings for an image build (scripts/image-lib.sh).

The tar holds `ca.crt` (the CA bundle pip and apt trust here), `pip.conf` (the index URLs pip
uses here, less local `file://` ones a container cannot read) and `apt/` (the host's apt
sources). service/Dockerfile fetches it from a loopback URL and deletes it within one RUN, so
none of it is written into the repository or left in an image layer.
"""

from __future__ import annotations

import configparser
import io
import os
import sys
import tarfile
from pathlib import Path

PIP_CONFIGS = (
    "/etc/pip.conf",
    "/etc/xdg/pip/pip.conf",
    "~/.config/pip/pip.conf",
    "~/.pip/pip.conf",
)
PIP_KEYS = ("index-url", "extra-index-url", "trusted-host")


def pip_settings(environ: dict[str, str], files: list[Path]) -> dict[str, str]:
    """Index settings as pip would resolve them (files in order, then PIP_* variables)."""
    found: dict[str, str] = {}
    for path in files:
        parser = configparser.ConfigParser()
        if not path.is_file():
            continue
        parser.read(path)
        for section in ("global", "install"):
            for key in PIP_KEYS:
                if parser.has_option(section, key):
                    found[key] = parser.get(section, key)
    for key in PIP_KEYS:
        env = environ.get("PIP_" + key.upper().replace("-", "_"))
        if env:
            found[key] = env
    kept: dict[str, str] = {}
    for key, value in found.items():
        words = value.split()
        if key != "trusted-host":
            words = [w for w in words if w.startswith(("http://", "https://"))]
        if words:
            kept[key] = " ".join(words)
    return kept


def pip_conf(settings: dict[str, str]) -> str:
    lines = ["[global]"] + [f"{key} = {value}" for key, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build(out: Path, environ: dict[str, str], apt_dir: Path = Path("/etc/apt")) -> None:
    ca = (
        environ.get("PIP_CERT")
        or environ.get("SSL_CERT_FILE")
        or "/etc/ssl/certs/ca-certificates.crt"
    )
    pip_files = [Path(p).expanduser() for p in PIP_CONFIGS]
    if environ.get("PIP_CONFIG_FILE"):
        pip_files.append(Path(environ["PIP_CONFIG_FILE"]))
    with tarfile.open(out, "w") as tar:
        _add(tar, "ca.crt", Path(ca).read_bytes())
        _add(tar, "pip.conf", pip_conf(pip_settings(environ, pip_files)).encode())
        main_list = apt_dir / "sources.list"
        _add(tar, "apt/sources.list", main_list.read_bytes() if main_list.is_file() else b"")
        parts = apt_dir / "sources.list.d"
        _add(tar, "apt/sources.list.d/.keep", b"")
        for part in sorted(parts.glob("*")) if parts.is_dir() else []:
            if part.suffix in (".list", ".sources") and part.is_file():
                _add(tar, f"apt/sources.list.d/{part.name}", part.read_bytes())


if __name__ == "__main__":
    build(Path(sys.argv[1]), dict(os.environ))
