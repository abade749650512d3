#!/usr/bin/env bash
# `make image-test`: builds the image (scripts/image-build.sh's way), then runs
# tests/image against the real container with throwaway PostgreSQL and Redis. Exits 0 with a
# "skipped" line only when no Docker engine can be started here (UTP_IMAGE_TEST_REQUIRED=1
# turns that into a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
export UTP_IMAGE="${UTP_IMAGE:-utp:image-test}"
# shellcheck source=scripts/image-lib.sh
source scripts/image-lib.sh
trap stop_engine EXIT
trap 'exit 130' INT TERM
started=$SECONDS
if ! start_engine; then
  if [ "${UTP_IMAGE_TEST_REQUIRED:-0}" = 1 ]; then exit 1; fi
  echo "image-test: skipped: no Docker engine can start on this machine"
  exit 0
fi
build_image
echo "image built in $((SECONDS - started)) s"
build_local_images
echo "PostgreSQL and Redis images for the compose smoke test built at $((SECONDS - started)) s"
UTP_TEST_IMAGE="$UTP_IMAGE" UTP_TEST_POSTGRES_IMAGE="$LOCAL_POSTGRES_IMAGE" \
  UTP_TEST_REDIS_IMAGE="$LOCAL_REDIS_IMAGE" .venv/bin/pytest -q -rA -p no:cacheprovider tests/image
sbom_and_audit
echo "image-test: $((SECONDS - started)) s in all"
