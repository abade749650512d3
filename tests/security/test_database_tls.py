"""The database URL the platform renders verifies the server: a real PostgreSQL with TLS, the
service's engine and the backup tools, with the CA the pod is given and with a stranger's."""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from infra.service.env import DATABASE_TLS_QUERY, RDS_CA_BUNDLE
from service.db.session import create_engine
from service.ops.pg import PgTarget
from tests.servers import PostgresServer, postgres_bin

# Fixed validity far from any test clock (certificates are checked against the real time).
NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2090, 1, 1, tzinfo=datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A PostgreSQL serving TLS with a certificate for 127.0.0.1 from our own CA; yields its
    port, that CA's bundle and an unrelated CA's bundle."""
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but is not installed")
        pytest.skip("PostgreSQL is not installed")
    certs = tmp_path_factory.mktemp("tls")
    ca_key, ca = _ca("utp test database CA")
    _, stranger = _ca("someone else's CA")
    server_key, server_cert = _server_cert(ca_key, ca)
    (certs / "ca.pem").write_bytes(_pem(ca))
    (certs / "stranger.pem").write_bytes(_pem(stranger))
    with PostgresServer.running() as server:
        server.stop()
        files = {
            "server.crt": _pem(server_cert),
            "server.key": server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
        }
        for file_name, data in files.items():
            path = server.datadir / file_name
            path.write_bytes(data)
            path.chmod(0o600)  # PostgreSQL refuses a key others can read
            if server.user:
                entry = pwd.getpwnam(server.user)
                os.chown(path, entry.pw_uid, entry.pw_gid)
        with (server.datadir / "postgresql.auto.conf").open("a") as conf:
            conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        server.start()
        yield server.port, certs / "ca.pem", certs / "stranger.pem"


def _url(port: int) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres?{DATABASE_TLS_QUERY}"


async def test_service_connects_over_tls_to_the_server_its_ca_vouches_for(
    tls_postgres, monkeypatch
):
    port, ca, _ = tls_postgres
    monkeypatch.setenv("PGSSLROOTCERT", str(ca))
    engine = create_engine(_url(port), pool_size=1)
    try:
        async with engine.connect() as conn:
            row = await conn.execute(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
            assert row.scalar_one() is True
    finally:
        await engine.dispose()


async def test_service_refuses_a_server_its_ca_does_not_vouch_for(tls_postgres, monkeypatch):
    # With `ssl=require` (encryption without verification) this would connect: a server
    # impersonating the database would receive the password.
    port, _, stranger = tls_postgres
    monkeypatch.setenv("PGSSLROOTCERT", str(stranger))
    engine = create_engine(_url(port), pool_size=1)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()


def test_backup_tools_verify_the_server_with_the_pods_bundle(tls_postgres, monkeypatch):
    port, ca, stranger = tls_postgres
    pg_dump = str(postgres_bin() / "pg_dump")  # type: ignore[operator]
    for bundle, ok in ((ca, True), (stranger, False)):
        monkeypatch.setenv("PGSSLROOTCERT", str(bundle))
        env = PgTarget.from_url(_url(port)).env()
        assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == str(bundle)
        done = subprocess.run(
            [pg_dump, "--schema-only"], env=env, capture_output=True, text=True, check=False
        )
        assert (done.returncode == 0) is ok, done.stderr
        if not ok:
            assert "certificate verify failed" in done.stderr


def test_the_shipped_bundle_holds_the_roots_of_both_regions():
    certs = x509.load_pem_x509_certificates(RDS_CA_BUNDLE.read_bytes())
    subjects = {
        c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        for c in certs
        if c.not_valid_after_utc > NOT_BEFORE.replace(year=2060)
    }
    for region in ("us-east-1", "us-west-2"):
        # The databases use rds-ca-rsa2048-g1 (infra/database.py ca_cert_identifier).
        assert f"Amazon RDS {region} Root CA RSA2048 G1" in subjects
