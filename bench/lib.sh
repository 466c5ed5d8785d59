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

# cpu_ticks PID: the process's CPU time so far (utime + stime, in clock
# ticks: getconf CLK_TCK); rss_kib PID: its resident memory now.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

# start_targets TARGETS SERIES: starts bench/target_generator.py (TARGETS
# targets of SERIES series each); once all listen, sets target_ports to
# their ports and gen_pid to the generator's pid.  Building the pages takes
# about 20 ms per target of 2000 series (10 s for 500).
start_targets() {
    python3 bench/target_generator.py "$1" "$2" > "$tmp/gen.out" &
    gen_pid=$!
    pids+=("$gen_pid")
    for _ in $(seq 3000); do grep -q ready "$tmp/gen.out" 2>/dev/null && break; sleep 0.1; done
    target_ports=$(sed -n 's/^ready //p' "$tmp/gen.out")
    [[ -n $target_ports ]] || { echo "target generator did not start" >&2; exit 1; }
}

# scrape_config FILE INTERVAL: a configuration scraping every target of
# start_targets as job "bench" every INTERVAL seconds (timeout the same).
scrape_config() {
    {
        printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: %ss\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [' \
            "$2" "$2"
        local sep="" p
        for p in $target_ports; do printf '%s"127.0.0.1:%s"' "$sep" "$p"; sep=,; done
        printf ']\n'
    } > "$1"
}
