#!/usr/bin/env bash
# `make image`: builds service/Dockerfile as $UTP_IMAGE (default utp:dev) on the running Docker
# engine, or on a private Debian dockerd it starts and stops (scripts/image-lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export UTP_IMAGE="${UTP_IMAGE:-utp:dev}"
# shellcheck source=scripts/image-lib.sh
source scripts/image-lib.sh
trap stop_engine EXIT
trap 'exit 130' INT TERM
start_engine
build_image
docker image ls "$UTP_IMAGE"
