#!/usr/bin/env bash
# setup.sh — install the Debian packages Vigil needs, and nothing else.
#
#   scripts/setup.sh          what building and running Vigil needs
#   scripts/setup.sh --test   plus what the test suite and the benchmarks'
#                             smoke runs need: the reference programs
#                             (prometheus + promtool, alertmanager + amtool,
#                             victoria-metrics), a real scrape target
#                             (prometheus-node-exporter), wrk, and Python
#                             for the end-to-end tests
#
# Idempotent and quiet: it asks dpkg which packages are missing and runs
# apt-get only for those.  Services that Debian's packages would start on
# install (prometheus, alertmanager) are kept from starting: tests start
# their own copies on loopback ports.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config liblmdb-dev libzstd-dev libuv1-dev libcjson-dev libroaring-dev libxxhash-dev
            libyaml-dev node-llhttp libcmocka-dev zlib1g-dev libpcre2-dev libcrypt-dev
            libcurl4-openssl-dev libssl-dev)
test_pkgs=(python3 prometheus prometheus-alertmanager prometheus-node-exporter victoria-metrics
           curl wrk clang libclang-rt-14-dev clang-format openssl)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
    want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2

# Keep package scripts from starting daemons (Debian's policy-rc.d protocol).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
    $SUDO chmod +x $policy
    made_policy=1
fi
cleanup() { [[ $made_policy -eq 1 ]] && $SUDO rm -f $policy; true; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
