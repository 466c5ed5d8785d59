#!/usr/bin/env bash
# bench/api_load.sh — the HTTP API under a dashboard's load while scraping
# goes on: Vigil, then Prometheus 2.42, the same load on each.
#
# Each system starts with the last HISTORY seconds of TARGETS targets
# (bench/target_generator.py, SERIES series each) already stored
# (bench/history.py, imported with `vigil tsdb import` / `promtool tsdb
# create-blocks-from openmetrics`), scrapes the live targets every INTERVAL
# seconds, warms up until every target has been scraped and two intervals
# more, then serves CLIENTS concurrent
# clients for SECONDS seconds: wrk with bench/api_load.lua, a Grafana-like
# mix of range queries over the last hour (step 15s), instant queries,
# label names, label values and series.  Printed per system: requests,
# requests/s, errors (non-2xx and socket errors), p50 and p99 latency, the
# scrapes that landed in the window and the ones skipped (an interval with
# no scrape, or a failed one, found in the stored `up` samples), and the
# Prometheus/Vigil latency ratios.  Exits 1 when Vigil had an error or
# skipped a scrape.
#
#   bench/api_load.sh [SECONDS] [CLIENTS]      (defaults 30 50)
#   env: TARGETS (20) SERIES (1000) INTERVAL (5) HISTORY (3600)
#   CI's smoke: TARGETS=3 SERIES=100 INTERVAL=1 HISTORY=600 api_load.sh 3 5
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30} CLIENTS=${2:-50}
TARGETS=${TARGETS:-20} SERIES=${SERIES:-1000} INTERVAL=${INTERVAL:-5} HISTORY=${HISTORY:-3600}
source bench/lib.sh
bench_init api_load.sh wrk prometheus promtool curl python3

start_targets "$TARGETS" "$SERIES"
ports=$target_ports
python3 bench/history.py --names "$SERIES" $ports > "$tmp/catalog"
scrape_config "$tmp/scrape.yml" "$INTERVAL"

# store_history SYSTEM DIR: stores the last HISTORY seconds of the targets in DIR.
store_history() {
    python3 bench/history.py "$SERIES" "$HISTORY" 15 "$(( $(date +%s) - 1 ))" $ports > "$tmp/history.om"
    if [[ $1 == vigil ]]; then
        "$VIGIL" tsdb import --storage.tsdb.path="$2" "$tmp/history.om" >/dev/null 2>"$tmp/import.log" ||
            { cat "$tmp/import.log" >&2; exit 1; }
    else
        promtool tsdb create-blocks-from openmetrics -q "$tmp/history.om" "$2" >/dev/null
    fi
    rm -f "$tmp/history.om"
}

# scraping URL SINCE: waits until every target has been scraped after SINCE
# (Prometheus starts scraping only some seconds after it is ready).
scraping() {
    local q="count(timestamp(up{job=\"bench\"}) > $2)"
    for _ in $(seq 300); do
        [[ $(curl -fsG "$1/api/v1/query" --data-urlencode "query=$q" |
            python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)') == "$TARGETS" ]] &&
            return 0
        sleep 0.1
    done
    echo "not every target scraped 30 s after start at $1" >&2
    exit 1
}

# skipped URL T0 T1: "scrapes skipped" of job bench in [T0, T1] (Unix
# seconds), from the raw `up` samples: a gap of n intervals between two
# scrapes is n-1 skipped ones (the scrapes just outside the window bound
# its first and last gap), a scrape with up 0 a failed one.
skipped() {
    python3 - "$1" "$2" "$3" "$INTERVAL" <<'EOF'
import json, sys, time, urllib.parse, urllib.request
url, t0, t1, iv = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
tq = time.time()
lo = t0 - 2 * iv
q = 'up{job="bench"}[%dms]' % int((tq - lo) * 1000)
with urllib.request.urlopen(url + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": "%.3f" % tq})) as r:
    res = json.load(r)["data"]["result"]
scrapes = skipped = 0
for s in res:
    pts = [(float(t), float(v)) for t, v in s["values"]]
    ts = [lo] + [t for t, _ in pts] + [tq]
    for a, b in zip(ts, ts[1:]):
        if b > t0 and a < t1:
            skipped += max(0, round((b - a) / iv) - 1)
    inside = [v for t, v in pts if t0 <= t <= t1]
    scrapes += len(inside)
    skipped += sum(1 for v in inside if v != 1)
print(scrapes, skipped)
EOF
}

# run SYSTEM: prints "requests errors p50_ms p99_ms scrapes skipped"
run() {
    local port dir pid started t0 t1 res
    port=$(free_port)
    dir="$tmp/$1"
    mkdir -p "$dir"
    store_history "$1" "$dir"
    started=$(date +%s)
    if [[ $1 == vigil ]]; then
        "$VIGIL" --config.file="$tmp/scrape.yml" --web.listen-address=127.0.0.1:$port \
            --storage.tsdb.path="$dir" --log.level=error & pid=$!
    else
        prometheus --config.file="$tmp/scrape.yml" --web.listen-address=127.0.0.1:$port \
            --storage.tsdb.path="$dir" --log.level=error >/dev/null 2>&1 & pid=$!
    fi
    pids+=($pid)
    wait_http "http://127.0.0.1:$port/-/ready"
    scraping "http://127.0.0.1:$port" "$started"
    sleep $((INTERVAL * 2))
    t0=$(date +%s.%N)
    CATALOG=$tmp/catalog wrk -t$((CLIENTS < 2 ? CLIENTS : 2)) -c"$CLIENTS" -d"${SECS}s" \
        --timeout 30s -s bench/api_load.lua "http://127.0.0.1:$port" > "$tmp/wrk.out"
    t1=$(date +%s.%N)
    sleep $((INTERVAL + 1)) # the scrape after the window, to see the window's last gap
    res=$(sed -n 's/^result //p' "$tmp/wrk.out")
    [[ -n $res ]] || { echo "wrk printed no result:" >&2; cat "$tmp/wrk.out" >&2; exit 1; }
    echo "$res $(skipped "http://127.0.0.1:$port" "$t0" "$t1")"
    kill $pid
    wait $pid 2>/dev/null || true
}

results=()
for sys in vigil prometheus; do
    results+=("$sys $(run $sys)")
done

printf '%s\n' "${results[@]}" | awk -v secs="$SECS" -v clients="$CLIENTS" -v targets="$TARGETS" \
    -v series="$SERIES" -v interval="$INTERVAL" -v history="$HISTORY" '
    { name[NR] = $1; req[NR] = $2; err[NR] = $3; p50[NR] = $4; p99[NR] = $5; scr[NR] = $6; skip[NR] = $7 }
    END {
        printf "%d clients for %ds (dashboard mix), %d targets x %d series scraped every %ds, %ds of history\n",
            clients, secs, targets, series, interval, history
        printf "%-12s %10s %9s %7s %10s %10s %9s %8s\n", "system", "requests", "req/s", "errors",
            "p50_ms", "p99_ms", "scrapes", "skipped"
        for (i = 1; i <= NR; i++)
            printf "%-12s %10d %9.1f %7d %10.2f %10.2f %9d %8d\n", name[i], req[i], req[i] / secs,
                err[i], p50[i], p99[i], scr[i], skip[i]
        printf "expected scrapes in the window: about %d per system\n", targets * secs / interval
        printf "ratios: latency (prometheus/vigil) p50 %.2fx, p99 %.2fx; requests served (vigil/prometheus) %.2fx\n",
            (p50[1] ? p50[2] / p50[1] : 0), (p99[1] ? p99[2] / p99[1] : 0), (req[2] ? req[1] / req[2] : 0)
        if (err[1] || skip[1]) {
            printf "FAIL: vigil had %d errors and %d skipped scrapes (both must be 0)\n", err[1], skip[1]
            exit 1
        }
    }'
