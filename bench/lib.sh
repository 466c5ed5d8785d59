# bench/lib.sh — what every benchmark script shares: the tools check, the
# Vigil binary, a scratch directory and the processes to stop on exit,
# free loopback ports and waiting for a server to answer.
#   source "$(dirname "$0")/lib.sh"; bench_init NAME TOOL...
bench_init() {
    local name=$1
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            { echo "bench/$name: $tool missing (scripts/setup.sh --test installs it)" >&2; exit 1; }
    done
    VIGIL=${VIGIL_BIN:-build/vigil}
    [[ -x $VIGIL ]] || scripts/build.sh release
    tmp=$(mktemp -d)
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL: until the URL answers 2xx, at most 10 s.
wait_http() {
    for _ in $(seq 200); do curl -fs "$1" >/dev/null && return 0; sleep 0.05; done
    echo "no answer from $1" >&2
    exit 1
}
