"""The host's package-index settings handed to an image build (scripts/image_hostconf.py)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from scripts.image_hostconf import build, pip_settings


def test_pip_settings_keep_remote_indexes_and_drop_local_ones(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nfind-links = /opt/wheels\n"
        "extra-index-url = file:///opt/pypi/simple https://mirror.test/simple\n"
    )
    environ = {"PIP_INDEX_URL": "https://index.test/simple", "PIP_TRUSTED_HOST": "index.test"}
    assert pip_settings(environ, [conf, tmp_path / "missing.conf"]) == {
        "index-url": "https://index.test/simple",
        "extra-index-url": "https://mirror.test/simple",
        "trusted-host": "index.test",
    }


def test_only_local_indexes_leave_pip_on_its_default(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nextra-index-url = file:///opt/pypi/simple\n")
    assert pip_settings({}, [conf]) == {}


def test_the_tar_holds_the_ca_bundle_pip_conf_and_apt_sources(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text("Types: deb\n")
    (apt / "sources.list.d" / "old.list.disabled").write_text("deb http://old.test x main\n")
    out = tmp_path / "hostconf.tar"
    build(out, {"PIP_CERT": str(ca), "PIP_INDEX_URL": "https://index.test/simple"}, apt)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        pip_conf = tar.extractfile("pip.conf")
        assert pip_conf is not None
        assert "index-url = https://index.test/simple" in pip_conf.read().decode()
    assert {"ca.crt", "apt/sources.list", "apt/sources.list.d/debian.sources"} <= names
    assert "apt/sources.list.d/old.list.disabled" not in names
