#!/usr/bin/env bash
# `make sbom`: the image's CycloneDX SBOM and a pip-audit of its Python packages (builds the
# image first when needed; scripts/image-lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export UTP_IMAGE="${UTP_IMAGE:-utp:dev}"
# shellcheck source=scripts/image-lib.sh
source scripts/image-lib.sh
trap stop_engine EXIT
trap 'exit 130' INT TERM
start_engine
docker image inspect "$UTP_IMAGE" >/dev/null 2>&1 || build_image
sbom_and_audit require-data
