# PostgreSQL from Debian's own packages, for the compose smoke test (tests/image/test_compose_up.py)
# where the official postgres image cannot be pulled. It keeps the official image's interface as
# compose.yaml uses it: POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE, the data directory
# /var/lib/postgresql/data, started as root and dropping to `postgres`, pg_isready on PATH.
# Debian bookworm has PostgreSQL 15 (compose.yaml runs 16): docs/compose.md says so.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG HOST_CONFIG_URL=
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN set -eu; \
    apt_opts=""; \
    if [ -n "$HOST_CONFIG_URL" ]; then \
      python3 -c "import io,sys,tarfile,urllib.request as u; tarfile.open(fileobj=io.BytesIO(u.urlopen(sys.argv[1]).read())).extractall(sys.argv[2])" "$HOST_CONFIG_URL" /tmp/host; \
      export SSL_CERT_FILE=/tmp/host/ca.crt; \
      apt_opts="-o Dir::Etc::SourceList=/tmp/host/apt/sources.list -o Dir::Etc::SourceParts=/tmp/host/apt/sources.list.d -o Acquire::https::CAInfo=/tmp/host/ca.crt"; \
    fi; \
    apt-get $apt_opts update; \
    DEBIAN_FRONTEND=noninteractive apt-get $apt_opts install -y --no-install-recommends postgresql-15; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /tmp/host \
      /var/lib/postgresql/15 /etc/postgresql/15; \
    install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data; \
    chmod 0755 /usr/local/bin/postgres-entrypoint
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
