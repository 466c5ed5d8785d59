#!/usr/bin/env bash
# bench/scrape.sh — scrape-and-store cost and one-metric selector latency:
# Vigil, Prometheus 2.42 and VictoriaMetrics scraping the same targets, one
# after the other, in one run.
#
# TARGETS targets (bench/target_generator.py, node_exporter-like pages of
# SERIES series, gzip) are scraped every INTERVAL seconds by each system.
# Warm-up: until the system holds every series (its own count) and two
# intervals more.  Then, for SECONDS seconds, the script reads each
# process's CPU time (utime+stime from /proc) and at the end its resident
# memory, the series it holds (Vigil and Prometheus:
# prometheus_tsdb_head_series; VictoriaMetrics: totalSeries of
# /api/v1/status/tsdb, the series with samples today) and its scrapes in
# the window (Vigil and Prometheus: `up` samples stored; VictoriaMetrics:
# its vm_promscrape_scrapes_total counter, scrapes done, as its queries do
# not see the last 30 s).  While it still holds the series, the selector of
# one metric, node_bench_boot_time_seconds (one series per target), is
# timed over HTTP: REPEAT instant queries count(...) and REPEAT
# /api/v1/series?match[]=... (last hour), median and p90, after one
# untimed request each.  Printed: CPU µs per scraped sample, RSS per active
# series, series held, the generator's CPU share (it should stay small),
# selector latencies, the ratios, and Vigil's in-process index figure at
# the same scale (build/bench_index, when built).
#
#   bench/scrape.sh [SECONDS] [TARGETS] [SERIES] [INTERVAL]   env: REPEAT (50)
#   (defaults 60 100 2000 5; 1M active series: 120 500 2000 15;
#    CI's smoke: 4 3 100 1)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60} TARGETS=${2:-100} SERIES=${3:-2000} INTERVAL=${4:-5} REPEAT=${REPEAT:-50}
METRIC=node_bench_boot_time_seconds
source bench/lib.sh
bench_init scrape.sh prometheus victoria-metrics curl python3

start_targets "$TARGETS" "$SERIES"
scrape_config "$tmp/scrape.yml" "$INTERVAL"
hz=$(getconf CLK_TCK)
active=$((TARGETS * (SERIES + 5))) # + up, scrape_duration_seconds, ... per target

# scrapes URL: the scrapes of the window stored as `up` samples, summed over
# the targets (a skipped or late scrape shows as a missing sample)
scrapes() {
    curl -fs "$1/api/v1/query" --data-urlencode "query=sum(count_over_time(up{job=\"bench\"}[${SECS}s]))" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}

# vm_scrapes URL: VictoriaMetrics's successful scrapes so far
vm_scrapes() {
    curl -fs "$1/metrics" | awk '/^vm_promscrape_scrapes_total\{status_code="200"\}/ { n = $2 } END { print n + 0 }'
}

# held SYSTEM URL: the series the system holds, by its own count
held() {
    if [[ $1 == victoriametrics ]]; then
        curl -fs "$2/api/v1/status/tsdb" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["data"].get("totalSeries", -1))'
    else
        curl -fs "$2/metrics" | awk '$1 == "prometheus_tsdb_head_series" { printf "%.0f\n", $2 }'
    fi
}

# latency URL: the one-metric selector over HTTP; prints "count_p50
# count_p90 series_p50 series_p90 count_answer series_answer" (ms; the
# answers are the series counted and listed, TARGETS when complete)
latency() {
    python3 - "$1" "$METRIC" "$REPEAT" <<'EOF'
import http.client, json, statistics, sys, time, urllib.parse
url, metric, repeat = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
now = time.time()
paths = ["/api/v1/query?" + urllib.parse.urlencode({"query": "count(%s)" % metric}),
         "/api/v1/series?" + urllib.parse.urlencode({"match[]": metric, "start": "%.0f" % (now - 3600),
                                                     "end": "%.0f" % (now + 60)})]
out, answers = [], []
for path in paths:
    ms = []
    for i in range(repeat + 1):
        t = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if i:
            ms.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            sys.exit("%s%s: HTTP %d %s" % (sys.argv[1], path, r.status, body[:200]))
    data = json.loads(body)["data"]
    answers.append(int(float(data["result"][0]["value"][1])) if "result" in data and data["result"]
                   else len(data) if isinstance(data, list) else 0)
    ms.sort()
    out += [statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.9))]]
print(" ".join("%.3f" % x for x in out), *answers)
EOF
}

# measure SYSTEM PID URL: warms up, runs the window, prints "cpu_ticks
# rss_kib scrapes held generator_ticks" and the latency figures
measure() {
    local name=$1 pid=$2 url=$3 n=-1 h=0 c0 c1 g0 g1 s0=0
    for _ in $(seq 300); do # at most ~10 min until every series is there
        h=$(held "$name" "$url" || true)
        ((${h:-0} >= active)) && break
        sleep 2
    done
    ((${h:-0} >= active)) || echo "bench/scrape.sh: $name holds $h of $active series after the warm-up" >&2
    sleep $((INTERVAL * 2 + 2))
    [[ $name == victoriametrics ]] && s0=$(vm_scrapes "$url")
    c0=$(cpu_ticks "$pid") g0=$(cpu_ticks "$gen_pid")
    sleep "$SECS"
    c1=$(cpu_ticks "$pid") g1=$(cpu_ticks "$gen_pid")
    local rss; rss=$(rss_kib "$pid")
    if [[ $name == victoriametrics ]]; then n=$(( $(vm_scrapes "$url") - s0 )); else n=$(scrapes "$url"); fi
    h=$(held "$name" "$url")
    echo "$(( c1 - c0 )) $rss $n $h $(( g1 - g0 )) $(latency "$url")"
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
results+=("victoriametrics $(measure victoriametrics $vmpid http://127.0.0.1:$port)")
kill $vmpid; wait $vmpid 2>/dev/null || true

printf '%s\n' "${results[@]}" | awk -v secs="$SECS" -v targets="$TARGETS" -v series="$SERIES" \
    -v interval="$INTERVAL" -v hz="$hz" -v active="$active" -v metric="$METRIC" -v repeat="$REPEAT" '
    { name[NR] = $1; cpu[NR] = $2 / hz; rss[NR] = $3; sc[NR] = $4; held[NR] = $5; gen[NR] = $6 / hz
      cp50[NR] = $7; cp90[NR] = $8; sp50[NR] = $9; sp90[NR] = $10; cans[NR] = $11; sans[NR] = $12 }
    END {
        samples = targets * (series + 5) * secs / interval
        printf "%d targets x %d series every %ds, %ds measured: %d samples/s scraped, %d active series\n",
            targets, series, interval, secs, samples / secs, active
        printf "%-16s %14s %10s %13s %12s %14s\n", "system", "cpu_us/sample", "rss_MiB", "rss_B/series",
            "series_held", "generator_cpu"
        for (i = 1; i <= NR; i++)
            printf "%-16s %14.3f %10.1f %13.0f %12d %13.1f%%\n", name[i], cpu[i] * 1e6 / samples, rss[i] / 1024,
                rss[i] * 1024 / active, held[i], gen[i] * 100 / secs
        printf "ratios (other/vigil): cpu prometheus %.2fx, victoriametrics %.2fx; rss prometheus %.2fx, victoriametrics %.2fx\n",
            cpu[2] / cpu[1], cpu[3] / cpu[1], rss[2] / rss[1], rss[3] / rss[1]
        expect = targets * int(secs / interval)
        for (i = 1; i <= 2; i++)
            printf "%s: %d scrapes stored in the window, %d expected (missing: skipped or late)\n",
                name[i], sc[i], expect
        printf "%s: %d scrapes done in the window (vm_promscrape_scrapes_total), %d expected\n",
            name[3], sc[3], expect
        printf "selector %s (%d of the %d series), ms over HTTP, median and p90 of %d:\n",
            metric, targets, active, repeat
        printf "%-16s %10s %10s %11s %11s %8s %8s\n", "system", "count_p50", "count_p90", "series_p50",
            "series_p90", "counted", "listed"
        for (i = 1; i <= NR; i++)
            printf "%-16s %10.2f %10.2f %11.2f %11.2f %8d %8d\n", name[i], cp50[i], cp90[i], sp50[i], sp90[i],
                cans[i], sans[i]
        printf "ratios (other/vigil): count() prometheus %.2fx, victoriametrics %.2fx; series prometheus %.2fx, victoriametrics %.2fx\n",
            cp50[2] / cp50[1], cp50[3] / cp50[1], sp50[2] / sp50[1], sp50[3] / sp50[1]
    }'

# Vigil's index alone, in process, at the same number of series
index=$(dirname "$VIGIL")/bench_index
if [[ -x $index ]]; then
    echo "Vigil's index alone, in process (build/bench_index, $(( (active + 999) / 1000 * 1000 )) series; one metric's series):"
    "$index" $(( (active + 999) / 1000 )) 10000 nosync | grep -- '-> ' || true
fi
