# Redis from Debian's own packages, for the compose smoke test (tests/image/test_compose_up.py)
# where the official redis image cannot be pulled: bookworm's redis-server 7.0, run as compose.yaml
# runs it (user 999, data in /data). As in the official image, a server started without a
# configuration file listens on every address with protected mode off.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG HOST_CONFIG_URL=
RUN set -eu; \
    apt_opts=""; \
    if [ -n "$HOST_CONFIG_URL" ]; then \
      python3 -c "import io,sys,tarfile,urllib.request as u; tarfile.open(fileobj=io.BytesIO(u.urlopen(sys.argv[1]).read())).extractall(sys.argv[2])" "$HOST_CONFIG_URL" /tmp/host; \
      export SSL_CERT_FILE=/tmp/host/ca.crt; \
      apt_opts="-o Dir::Etc::SourceList=/tmp/host/apt/sources.list -o Dir::Etc::SourceParts=/tmp/host/apt/sources.list.d -o Acquire::https::CAInfo=/tmp/host/ca.crt"; \
    fi; \
    apt-get $apt_opts update; \
    DEBIAN_FRONTEND=noninteractive apt-get $apt_opts install -y --no-install-recommends redis-server; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /tmp/host; \
    install -d -o 999 -g 999 -m 0750 /data
# `redis-server ARGS` (compose.yaml's command) runs as `redis-server --protected-mode no ARGS`.
ENTRYPOINT ["/bin/sh", "-c", "[ \"${1:-}\" != redis-server ] || shift; exec /usr/bin/redis-server --protected-mode no \"$@\"", "redis-entrypoint"]
