#!/usr/bin/env bash
# Installs the system packages a target needs when they are missing and apt-get can be used.
# `run` needs Apertium (the offline engine); `test` also PostgreSQL, Redis, promtool, amtool,
# faketime (for `make test-calendar`), docker-compose (validates compose.yaml);
# `bench` also wrk and Apertium's own server (APy), its baselines;
# `image` only a Docker engine (Debian's docker.io) and debootstrap (the stand-in base image).
set -euo pipefail

target="${1:-run}"
# Apertium pairs (package and one mode it installs): the ones that passed the chat check in
# bench/apertium_pairs.json (issue 22); the others are left out for the reasons given there.
# Keep this list, .ci/run and the README's list in step (tests/service/test_apertium_pairs.py).
apertium_pairs=(
  apertium-eng-spa:eng-spa apertium-eng-cat:eng-cat apertium-fr-es:fr-es apertium-es-pt:es-pt
  apertium-spa-cat:spa-cat apertium-es-gl:gl-es apertium-pt-gl:pt-gl apertium-spa-ita:ita-spa
  apertium-es-ro:ro-es apertium-eu-es:eu-es apertium-eu-en:eu-en apertium-oc-es:oc-es
  apertium-oc-ca:oc-ca apertium-spa-arg:arg-spa apertium-spa-ast:spa-ast apertium-swe-dan:swe-dan
  apertium-dan-nor:dan-nob apertium-nno-nob:nob-nno
)

missing=()
if [ "$target" = image ]; then
  docker info >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
fi
have_pair() { [ -e "/usr/share/apertium/modes/$1.mode" ]; }
if [ "$target" != image ]; then
  command -v apertium >/dev/null 2>&1 || missing+=(apertium)
  for entry in "${apertium_pairs[@]}"; do
    have_pair "${entry#*:}" || missing+=("${entry%%:*}")
  done
fi
if [ "$target" = bench ]; then
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v apertium-apy >/dev/null 2>&1 || missing+=(apertium-apy)
fi
if [ "$target" = test ] || [ "$target" = bench ]; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || missing+=(postgresql)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
fi
if [ "$target" = test ]; then
  command -v faketime >/dev/null 2>&1 || missing+=(faketime)  # make test-calendar
  # `docker compose config` (the plugin) or Debian's standalone docker-compose.
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 \
    || missing+=(docker-compose)
  [ -x /usr/bin/chromium ] || missing+=(chromium)  # the console's browser tests
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: apt-get is not available; install these yourself: ${missing[*]}" >&2
  echo "note: without Apertium the offline engine is disabled; configure another provider" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "note: not root and no sudo; install these yourself: ${missing[*]}" >&2
    exit 0
  fi
fi
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
