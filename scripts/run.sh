#!/usr/bin/env bash
# run.sh — the README's first command: install what is missing, build, and
# start Vigil on the shipped default config (it scrapes itself; data under
# ./data).  Extra arguments are passed to vigil, e.g. --web.listen-address.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec ./build/vigil --config.file=conf/prometheus.yml --storage.tsdb.path=data/ "$@"
