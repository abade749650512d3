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
# Jobs run alongside the foreground one; stopped on exit, before the engine.
BACKGROUND=()
cleanup() {
  local pid
  for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  stop_engine
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started=$SECONDS
if ! start_engine; then
  if [ "${UTP_IMAGE_TEST_REQUIRED:-0}" = 1 ]; then exit 1; fi
  echo "image-test: skipped: no Docker engine can start on this machine"
  exit 0
fi
choose_base
serve_host_config
# The compose smoke test's PostgreSQL and Redis images build alongside the service's.
mkdir -p "$IMAGE_CACHE"
build_local_images >"$IMAGE_CACHE/local-images.log" 2>&1 &
BACKGROUND=($!)
build_image
echo "image built in $((SECONDS - started)) s"
if ! wait "${BACKGROUND[0]}"; then
  BACKGROUND=()
  echo "building the compose smoke test's PostgreSQL and Redis images failed:" >&2
  tail -30 "$IMAGE_CACHE/local-images.log" >&2
  exit 1
fi
BACKGROUND=()
echo "PostgreSQL and Redis images for the compose smoke test built at $((SECONDS - started)) s"
stop_host_config

# The container tests and the compose smoke test at once: both mostly wait on health checks.
export UTP_TEST_IMAGE="$UTP_IMAGE" UTP_TEST_POSTGRES_IMAGE="$LOCAL_POSTGRES_IMAGE" \
  UTP_TEST_REDIS_IMAGE="$LOCAL_REDIS_IMAGE"
pytest_image() { .venv/bin/pytest -q -rA -p no:cacheprovider "$@"; }
pytest_image tests/image/test_compose_up.py >"$IMAGE_CACHE/compose-test.log" 2>&1 &
BACKGROUND=($!)
container_rc=0
pytest_image tests/image/test_container.py || container_rc=$?
compose_rc=0
wait "${BACKGROUND[0]}" || compose_rc=$?
BACKGROUND=()
echo "--- the compose smoke test (tests/image/test_compose_up.py):"
cat "$IMAGE_CACHE/compose-test.log"
if [ "$container_rc" != 0 ] || [ "$compose_rc" != 0 ]; then
  echo "image-test: FAILED (container tests exit $container_rc, compose smoke test exit $compose_rc)" >&2
  exit 1
fi
echo "tests passed at $((SECONDS - started)) s"
sbom_and_audit
echo "image-test: $((SECONDS - started)) s in all"
