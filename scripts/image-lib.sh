#!/usr/bin/env bash
# Shared by scripts/image-build.sh and scripts/image-test.sh (sourced, not run): a private Docker
# engine, the stand-in base image and a loopback server for the host's package-index settings.
# Everything cached between runs lives under build/image/ (gitignored).

IMAGE_CACHE="${UTP_IMAGE_CACHE:-$PWD/build/image}"
# The stand-in base's root filesystem is kept per user, not per clone, as a pulled base image
# stays in a Docker engine: debootstrap is the slowest part of a run from a fresh clone. It is
# made again when older than BASE_MAX_AGE_DAYS, to pick up Debian's updates.
BASE_CACHE="${UTP_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/utp-image}"
BASE_MAX_AGE_DAYS=7
BASE_TAG="utp-base/python:3.11-bookworm-debian"

# DOCKER_HOST set by the caller wins; otherwise a running default engine; otherwise start Debian's
# dockerd (docker.io) on a private socket with no iptables/bridge (builds use the host's network,
# compose stacks user-defined bridges). Storage: overlay2 where the kernel and the file system
# under build/image/ allow it, else vfs (works inside containers and sandboxes, but copies the
# whole image for every build step and container). Each driver's data root is kept under
# build/image/ so layers are reused by the next run.
STARTED_DOCKERD_PID=""
PRIVATE_DIR=""
start_engine() {
  if [ -n "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then return 0; fi
  if [ -z "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then return 0; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "no Docker engine: dockerd is not installed (Debian: apt-get install docker.io)" >&2
    return 1
  fi
  local driver log=""
  for driver in overlay2 vfs; do
    if start_private_dockerd "$driver"; then
      echo "started a private dockerd (storage driver $driver)"
      return 0
    fi
    log="$(tail -20 "$PRIVATE_DIR/dockerd.log" 2>/dev/null || true)"
    stop_engine
  done
  echo "no Docker engine: dockerd did not start; its last log:" >&2
  echo "$log" >&2
  return 1
}

start_private_dockerd() {
  local driver="$1"
  PRIVATE_DIR="$(mktemp -d /tmp/utp-docker.XXXXXX)"
  mkdir -p "$IMAGE_CACHE/docker-$driver"
  dockerd --storage-driver="$driver" --iptables=false --ip6tables=false --bridge=none \
    --data-root "$IMAGE_CACHE/docker-$driver" --exec-root "$PRIVATE_DIR/exec" \
    --pidfile "$PRIVATE_DIR/docker.pid" -H "unix://$PRIVATE_DIR/docker.sock" \
    >"$PRIVATE_DIR/dockerd.log" 2>&1 &
  STARTED_DOCKERD_PID=$!
  export DOCKER_HOST="unix://$PRIVATE_DIR/docker.sock"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null; then return 1; fi
    sleep 1
  done
  return 1
}

CONF_SERVER_PID=""
stop_engine() {
  stop_host_config
  if [ -n "$STARTED_DOCKERD_PID" ]; then
    # Containers this run started go with the engine: stop them first so none outlives it.
    local running
    running="$(docker ps -q 2>/dev/null || true)"
    if [ -n "$running" ]; then docker rm -f $running >/dev/null 2>&1 || true; fi
    # User-defined networks (a compose stack's) are bridges on the host: none outlives the run.
    docker network prune -f >/dev/null 2>&1 || true
    kill "$STARTED_DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    kill -9 "$STARTED_DOCKERD_PID" 2>/dev/null || true
    STARTED_DOCKERD_PID=""
  fi
  if [ -n "$PRIVATE_DIR" ]; then
    # dockerd leaves its network namespace mounted under the exec root.
    # (and overlay2 its layers' mounts under the data root, should it have been killed).
    awk -v d="$PRIVATE_DIR/" -v r="$IMAGE_CACHE/docker-" 'index($2, d) == 1 || index($2, r) == 1 {print $2}' \
      /proc/mounts | sort -r \
      | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
    rm -rf "$PRIVATE_DIR"
    PRIVATE_DIR=""
  fi
}

# The host's Debian mirror, read from its apt sources (deb822 or one-line format), never written
# in the repository.
host_debian_mirror() {
  local uri
  uri="$(grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '{print $2}' | grep -v -- '-security' | head -1 || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | grep -v -- '-security' | awk '{for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' || true)"
  fi
  echo "$uri"
}

# The stand-in for python:3.11-slim-bookworm: Debian bookworm (debootstrap minbase) with Debian's
# python3.11 and venv, slimmed as debian:bookworm-slim is (no docs but copyrights, man pages or
# translations, now or from later apt-get installs): every build step copies the whole image on
# vfs, so its size is paid per step. Its root filesystem tarball is cached; importing takes seconds.
SLIM_DPKG_CONFIG='path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*'
ensure_base_image() {
  if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then return 0; fi
  # The name changes with the recipe below, so a changed recipe is never served an old tarball.
  local tarball="$BASE_CACHE/base-bookworm-python3.11-slim-1.tar"
  mkdir -p "$BASE_CACHE" "$IMAGE_CACHE"
  find "$tarball" -mtime +"$BASE_MAX_AGE_DAYS" -delete 2>/dev/null || true
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; return 1; }
    local mirror root debs
    mirror="$(host_debian_mirror)"
    root="$(mktemp -d /tmp/utp-rootfs.XXXXXX)"
    # The host's apt cache, where it holds the same files: debootstrap checks each one's checksum
    # and downloads only what is missing or different (into this private directory).
    debs="$(mktemp -d /tmp/utp-debs.XXXXXX)"
    find /var/cache/apt/archives -maxdepth 1 -name '*.deb' -exec ln -s -t "$debs" {} + 2>/dev/null || true
    echo "building the stand-in base image (debootstrap bookworm from the host's mirror)..."
    if ! {
      debootstrap --variant=minbase --cache-dir="$debs" bookworm "$root" "$mirror" \
        && cp /etc/resolv.conf "$root/etc/resolv.conf" \
        && printf '%s\n' "$SLIM_DPKG_CONFIG" >"$root/etc/dpkg/dpkg.cfg.d/docker" \
        && chroot "$root" apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
             python3.11 python3.11-venv ca-certificates
    } >"$IMAGE_CACHE/debootstrap.log" 2>&1; then
      tail -20 "$IMAGE_CACHE/debootstrap.log" >&2; rm -rf "$root" "$debs"; return 1
    fi
    rm -rf "$debs"
    # As in the official image: `python3` on PATH, no package lists or caches. The host's mirror
    # is not left in it: builds get the package sources from the host (HOST_CONFIG_URL).
    chmod 0755 "$root"  # mktemp made it 0700: as the image's / it would lock out UID 10001
    ln -sf python3.11 "$root/usr/bin/python3"
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
    : >"$root/etc/apt/sources.list"
    : >"$root/etc/resolv.conf"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
      "$root"/debootstrap
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  docker import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$BASE_TAG" >/dev/null
}

# Serves the host's package-index settings (scripts/image_hostconf.py) on loopback for the build.
# A fixed port keeps the build argument, and so the layer cache, the same from run to run.
HOSTCONF_DIR=""
serve_host_config() {
  local port
  HOSTCONF_DIR="$(mktemp -d /tmp/utp-hostconf.XXXXXX)"
  python3 scripts/image_hostconf.py "$HOSTCONF_DIR/hostconf.tar"
  port="${UTP_IMAGE_CONF_PORT:-47319}"
  if python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then :; else
    port="$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")"
  fi
  python3 -m http.server --bind 127.0.0.1 --directory "$HOSTCONF_DIR" "$port" >/dev/null 2>&1 &
  CONF_SERVER_PID=$!
  for _ in $(seq 1 50); do
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$port/hostconf.tar" 2>/dev/null && break
    sleep 0.2
  done
  HOST_CONFIG_URL="http://127.0.0.1:$port/hostconf.tar"
}

# Chooses the base: $PYTHON_IMAGE when given, else the public python:3.11-slim-bookworm when it
# is present or can be pulled, else the local stand-in; with the stand-in (an offline build)
# pg_dump comes from Debian unless POSTGRES_CLIENT says otherwise. Sets BUILD_BASE, BUILD_PG.
BUILD_BASE=""
BUILD_PG=""
choose_base() {
  local base="${PYTHON_IMAGE:-}" pg="${POSTGRES_CLIENT:-}"
  if [ -z "$base" ]; then
    base="python:3.11-slim-bookworm"
    if ! docker image inspect "$base" >/dev/null 2>&1 \
       && ! timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
      echo "$base cannot be pulled here: using the stand-in $BASE_TAG (Debian bookworm + python3.11)"
      ensure_base_image
      base="$BASE_TAG"
      pg="${pg:-debian}"
    fi
  fi
  BUILD_BASE="$base"
  BUILD_PG="${pg:-pgdg}"
}

# Builds service/Dockerfile as $UTP_IMAGE on the chosen base.
build_image() {
  [ -n "$BUILD_BASE" ] || choose_base
  [ -n "$CONF_SERVER_PID" ] || serve_host_config
  echo "building $UTP_IMAGE from $BUILD_BASE (POSTGRES_CLIENT=$BUILD_PG)"
  DOCKER_BUILDKIT=0 docker build --network host -f service/Dockerfile \
    --build-arg PYTHON_IMAGE="$BUILD_BASE" --build-arg POSTGRES_CLIENT="$BUILD_PG" \
    --build-arg HOST_CONFIG_URL="$HOST_CONFIG_URL" \
    -t "$UTP_IMAGE" .
}

# PostgreSQL 15 and Redis from Debian's packages on the same base (tests/compose/local/), for the
# compose smoke test where the official images cannot be pulled. scripts/image-test.sh runs it
# alongside build_image (after choose_base and serve_host_config).
LOCAL_POSTGRES_IMAGE="utp-local/postgres:15-debian"
LOCAL_REDIS_IMAGE="utp-local/redis:7-debian"
build_local_images() {
  local name tag
  for name in postgres redis; do
    if [ "$name" = postgres ]; then tag="$LOCAL_POSTGRES_IMAGE"; else tag="$LOCAL_REDIS_IMAGE"; fi
    echo "building $tag from $BUILD_BASE (Debian packages)"
    DOCKER_BUILDKIT=0 docker build --network host -f "tests/compose/local/$name.Dockerfile" \
      --build-arg BASE_IMAGE="$BUILD_BASE" --build-arg HOST_CONFIG_URL="$HOST_CONFIG_URL" \
      -t "$tag" tests/compose/local
  done
}

stop_host_config() {
  if [ -n "$CONF_SERVER_PID" ]; then kill "$CONF_SERVER_PID" 2>/dev/null || true; CONF_SERVER_PID=""; fi
  if [ -n "$HOSTCONF_DIR" ]; then rm -rf "$HOSTCONF_DIR"; HOSTCONF_DIR=""; fi
}

# The image's CycloneDX SBOM (Debian and Python packages, read from the image) in
# build/image/sbom.cdx.json, then pip-audit of the Python packages it pins. pip-audit asks
# PyPI's vulnerability data; where that cannot be reached the audit says it did not happen
# (a failure with `require-data`, as `make sbom` passes) and the SBOM still stands.
sbom_and_audit() {
  local require="${1:-}"
  mkdir -p "$IMAGE_CACHE"
  .venv/bin/python scripts/image_sbom.py "$UTP_IMAGE" "$IMAGE_CACHE/sbom.cdx.json" \
    "$IMAGE_CACHE/requirements.txt"
  # Its own exit code only says "found something or skipped something": the verdict reads the
  # report.
  .venv/bin/pip-audit --requirement "$IMAGE_CACHE/requirements.txt" --no-deps --disable-pip \
    --progress-spinner off --format json --output "$IMAGE_CACHE/pip-audit.json" 2>/dev/null || true
  .venv/bin/python scripts/image_sbom.py --audit-report "$IMAGE_CACHE/pip-audit.json" \
    ${require:+--require-data}
}
