#!/usr/bin/env bash
# bench/scrape.sh — scrape-and-store cost: Vigil, Prometheus 2.42 and
# VictoriaMetrics scraping the same targets, one after the other, in one run.
#
# TARGETS targets (bench/target_generator.py, node_exporter-like pages of
# SERIES series, gzip) are scraped every INTERVAL seconds by each system
# for SECONDS seconds after a warm-up; the script reads each process's CPU
# time (utime+stime from /proc) and resident memory, and prints CPU µs per
# scraped sample, RSS per active series, and the ratios.
#
#   bench/scrape.sh [SECONDS] [TARGETS] [SERIES] [INTERVAL]
#   (defaults 60 100 2000 5; CI's smoke: 6 5 200 1)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60} TARGETS=${2:-100} SERIES=${3:-2000} INTERVAL=${4:-5}
source bench/lib.sh
bench_init scrape.sh prometheus victoria-metrics curl python3

python3 bench/target_generator.py "$TARGETS" "$SERIES" > "$tmp/gen.out" &
pids+=($!)
for _ in $(seq 600); do grep -q ready "$tmp/gen.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$tmp/gen.out" || { echo "target generator did not start" >&2; exit 1; }

{
    printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: %ss\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [' \
        "$INTERVAL" "$INTERVAL"
    sep=""
    for p in $(sed -n 's/^ready //p' "$tmp/gen.out"); do printf '%s"127.0.0.1:%s"' "$sep" "$p"; sep=,; done
    printf ']\n'
} > "$tmp/scrape.yml"

cpu_ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }
rss_kib() { awk '/VmRSS/ { print $2 }' /proc/$1/status; }
hz=$(getconf CLK_TCK)
warm=$((INTERVAL * 2 + 2))

# scrapes URL: the scrapes of the window stored as `up` samples, summed over
# the targets (a skipped or late scrape shows as a missing sample)
scrapes() {
    curl -fs "$1/api/v1/query" --data-urlencode "query=sum(count_over_time(up{job=\"bench\"}[${SECS}s]))" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}

# measure NAME PID [URL]: runs the window, prints "cpu_seconds rss_kib scrapes"
measure() {
    sleep "$warm"
    local c0; c0=$(cpu_ticks "$2")
    sleep "$SECS"
    local c1; c1=$(cpu_ticks "$2")
    local n=-1
    [[ -n ${3:-} ]] && n=$(scrapes "$3")
    echo "$(( c1 - c0 )) $(rss_kib "$2") $n"
}

results=()
port=$(free_port)
"$VIGIL" --config.file="$tmp/scrape.yml" --web.listen-address=127.0.0.1:$port \
    --storage.tsdb.path="$tmp/vigil" --log.level=error & vpid=$!; pids+=($vpid)
wait_http "http://127.0.0.1:$port/-/ready"
results+=("vigil $(measure vigil $vpid http://127.0.0.1:$port)")
kill $vpid; wait $vpid 2>/dev/null || true

port=$(free_port)
prometheus --config.file="$tmp/scrape.yml" --web.listen-address=127.0.0.1:$port \
    --storage.tsdb.path="$tmp/prom" --log.level=error >/dev/null 2>&1 & ppid=$!; pids+=($ppid)
wait_http "http://127.0.0.1:$port/-/ready"
results+=("prometheus $(measure prometheus $ppid http://127.0.0.1:$port)")
kill $ppid; wait $ppid 2>/dev/null || true

port=$(free_port)
victoria-metrics -promscrape.config="$tmp/scrape.yml" -storageDataPath="$tmp/vm" \
    -httpListenAddr=127.0.0.1:$port -loggerLevel=ERROR >/dev/null 2>&1 & vmpid=$!; pids+=($vmpid)
wait_http "http://127.0.0.1:$port/health"
results+=("victoriametrics $(measure victoriametrics $vmpid)")
kill $vmpid; wait $vmpid 2>/dev/null || true

printf '%s\n' "${results[@]}" | awk -v secs="$SECS" -v targets="$TARGETS" -v series="$SERIES" \
    -v interval="$INTERVAL" -v hz="$hz" '
    { name[NR] = $1; cpu[NR] = $2 / hz; rss[NR] = $3; sc[NR] = $4 }
    END {
        samples = targets * (series + 5) * secs / interval
        active = targets * (series + 5)
        printf "%d targets x %d series every %ds, %ds measured: %d samples/s scraped, %d active series\n",
            targets, series, interval, secs, samples / secs, active
        printf "%-16s %14s %14s %16s\n", "system", "cpu_us/sample", "rss_MiB", "rss_B/series"
        for (i = 1; i <= NR; i++)
            printf "%-16s %14.3f %14.1f %16.0f\n", name[i], cpu[i] * 1e6 / samples, rss[i] / 1024,
                rss[i] * 1024 / active
        printf "ratios (other/vigil): cpu prometheus %.2fx, victoriametrics %.2fx; rss prometheus %.2fx, victoriametrics %.2fx\n",
            cpu[2] / cpu[1], cpu[3] / cpu[1], rss[2] / rss[1], rss[3] / rss[1]
        expect = targets * int(secs / interval)
        for (i = 1; i <= 2; i++)
            printf "%s: %d scrapes stored in the window, %d expected (missing: skipped or late)\n",
                name[i], sc[i], expect
    }'
