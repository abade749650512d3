"""S3 from moto's server on a free loopback port, and settings pointing the ops tools at it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from service.settings import (
    CacheSettings,
    DatabaseSettings,
    OpsSettings,
    Secret,
    ServerSettings,
    Settings,
)
from tests.servers import free_port

KMS_KEY = "alias/utp-backups"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto accepts any credentials; never let a test find real ones.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"utp-backups-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def ops_settings(tmp_path: Path, s3_endpoint: str, bucket: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Settings(
        server=ServerSettings(environment="test", data_dir=data_dir),
        ops=OpsSettings(
            backup_bucket=bucket,
            backup_prefix="utp",
            backup_kms_key_id=KMS_KEY,
            backup_s3_endpoint_url=s3_endpoint,
            backup_multipart_threshold_mb=5,
            backup_multipart_chunk_mb=5,
            backup_textfile_dir=str(tmp_path / "textfile"),
        ),
    )


def with_services(settings: Settings, database_url: str, redis_url: str | None = None) -> Settings:
    return replace(
        settings,
        database=DatabaseSettings(database_url=database_url),
        cache=CacheSettings(redis_url=Secret(redis_url or "")),
    )


def env_of(settings: Settings) -> dict[str, str]:
    """The UTP_* environment equivalent to `settings` (for the CLI under CliRunner)."""
    ops = settings.ops
    env = {
        "UTP_DATA_DIR": str(settings.server.data_dir),
        "UTP_BACKUP_BUCKET": ops.backup_bucket,
        "UTP_BACKUP_PREFIX": ops.backup_prefix,
        "UTP_BACKUP_KMS_KEY_ID": ops.backup_kms_key_id,
        "UTP_BACKUP_S3_ENDPOINT_URL": ops.backup_s3_endpoint_url,
        "UTP_BACKUP_MULTIPART_THRESHOLD_MB": str(ops.backup_multipart_threshold_mb),
        "UTP_BACKUP_MULTIPART_CHUNK_MB": str(ops.backup_multipart_chunk_mb),
        "UTP_BACKUP_TEXTFILE_DIR": ops.backup_textfile_dir,
    }
    if settings.database.database_url:
        env["UTP_DATABASE_URL"] = settings.database.database_url
    if settings.cache.redis_url:
        env["UTP_REDIS_URL"] = settings.cache.redis_url.get()
    return env
