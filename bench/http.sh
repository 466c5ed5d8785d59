#!/usr/bin/env bash
# bench/http.sh — the HTTP server's hot path, Vigil beside Prometheus.
#
# Starts Vigil and Prometheus 2.42 (Debian package) on loopback ports with
# empty configs, drives both with wrk (same connections, threads and time),
# and prints requests/s, p50/p99 latency and resident memory side by side
# with Vigil/Prometheus ratios.
#
#   bench/http.sh [seconds-per-run]     (default 10; CI's smoke uses 1)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONNS=${CONNS:-50}
source bench/lib.sh
bench_init http.sh wrk prometheus curl python3
wait_up() { wait_http "http://127.0.0.1:$1/-/ready"; }

printf 'global:\n  scrape_interval: 1h\n' > "$tmp/empty.yml"
vp=$(free_port)
"$VIGIL" --config.file="$tmp/empty.yml" --web.listen-address=127.0.0.1:$vp \
    --storage.tsdb.path="$tmp/vigil" --log.level=error &
pids+=($!)
vpid=$!
pp=$(free_port)
prometheus --config.file="$tmp/empty.yml" --web.listen-address=127.0.0.1:$pp \
    --storage.tsdb.path="$tmp/prom" --log.level=error 2>/dev/null &
pids+=($!)
ppid=$!
wait_up $vp
wait_up $pp

# run PORT PATH -> "reqs_per_s p50_ms p99_ms"
run() {
    wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$1$2" 2>/dev/null | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}
rss_kb() { awk '/VmRSS/ { print $2 }' /proc/$1/status; }

printf '%-14s %12s %12s %8s | %9s %9s %9s | %9s %9s\n' path vigil_rps prom_rps ratio \
    v_p50_ms p_p50_ms ratio v_p99_ms p_p99_ms
for path in /-/healthy /metrics; do
    read -r vr v50 v99 <<<"$(run $vp $path)"
    read -r pr p50 p99 <<<"$(run $pp $path)"
    awk -v p="$path" -v vr="$vr" -v pr="$pr" -v v50="$v50" -v p50="$p50" -v v99="$v99" -v p99="$p99" 'BEGIN {
        printf "%-14s %12d %12d %7.2fx | %9.3f %9.3f %8.2fx | %9.3f %9.3f\n", p, vr, pr, (pr ? vr / pr : 0),
            v50, p50, (v50 ? p50 / v50 : 0), v99, p99 }'
done
vr=$(rss_kb $vpid); pr=$(rss_kb $ppid)
awk -v v="$vr" -v p="$pr" 'BEGIN { printf "resident memory after load: vigil %d KiB, prometheus %d KiB (%.1fx smaller)\n", v, p, p / v }'
