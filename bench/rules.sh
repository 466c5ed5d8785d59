#!/usr/bin/env bash
# bench/rules.sh — rule evaluation cost: Vigil and Prometheus 2.42 running
# the seedstack fixture's 75 rules (shared/fixtures/seedstack/rules) over
# about SERIES series, one after the other, in one run.
#
# bench/rules_target.py serves the fixture's application metrics replicated
# to SERIES series; each system scrapes it every INTERVAL seconds, once
# without rules and once with them, and evaluates the groups every
# INTERVAL seconds.  The CPU time a system spends with rules minus without,
# over the same window, divided by the evaluation rounds it ran (from its
# own prometheus_rule_group_iterations_total), is its CPU per round: every
# group evaluated once.
#
#   bench/rules.sh [SECONDS] [SERIES] [INTERVAL]
#   (defaults 60 10000 5; CI's smoke: 6 1000 1)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60} SERIES=${2:-10000} INTERVAL=${3:-5}
source bench/lib.sh
bench_init rules.sh prometheus curl python3
RULES_SRC=../shared/fixtures/seedstack/rules
[[ -d $RULES_SRC ]] || { echo "bench/rules.sh: $RULES_SRC missing" >&2; exit 1; }
cp -r "$RULES_SRC" "$tmp/rules"

tport=$(free_port)
python3 bench/rules_target.py --listen 127.0.0.1:$tport --series "$SERIES" & pids+=($!)
wait_http "http://127.0.0.1:$tport/metrics"

config() { # config FILE WITH_RULES
    {
        printf 'global:\n  scrape_interval: %ss\n  evaluation_interval: %ss\n' "$INTERVAL" "$INTERVAL"
        [[ $2 == yes ]] && printf 'rule_files:\n  - %s/rules/*.yml\n' "$tmp"
        printf 'scrape_configs:\n  - job_name: app\n    static_configs:\n'
        printf '      - targets: ["127.0.0.1:%s"]\n' "$tport"
    } > "$1"
}
config "$tmp/plain.yml" no
config "$tmp/rules.yml" yes

iterations() { # sum of prometheus_rule_group_iterations_total at URL
    curl -fs "$1/metrics" | awk '/^prometheus_rule_group_iterations_total/ { s += $NF } END { print s + 0 }'
}
hz=$(getconf CLK_TCK)
warm=$((INTERVAL * 3 + 2))

# run SYSTEM CONFIG: prints "cpu_ticks iterations" over the window
run() {
    local port dir pid
    port=$(free_port)
    dir=$(mktemp -d -p "$tmp")
    if [[ $1 == vigil ]]; then
        "$VIGIL" --config.file="$2" --web.listen-address=127.0.0.1:$port \
            --storage.tsdb.path="$dir" --log.level=error & pid=$!
    else
        prometheus --config.file="$2" --web.listen-address=127.0.0.1:$port \
            --storage.tsdb.path="$dir" --log.level=error >/dev/null 2>&1 & pid=$!
    fi
    pids+=($pid)
    wait_http "http://127.0.0.1:$port/-/ready"
    sleep "$warm"
    local c0 i0 c1 i1
    c0=$(cpu_ticks $pid); i0=$(iterations "http://127.0.0.1:$port")
    sleep "$SECS"
    c1=$(cpu_ticks $pid); i1=$(iterations "http://127.0.0.1:$port")
    kill $pid; wait $pid 2>/dev/null || true
    echo "$((c1 - c0)) $(awk -v a="$i0" -v b="$i1" 'BEGIN { print b - a }')"
}

groups=$(cat "$tmp"/rules/*.yml | grep -c '^ *- name:')
results=()
for sys in vigil prometheus; do
    results+=("$sys $(run $sys "$tmp/plain.yml") $(run $sys "$tmp/rules.yml")")
done

printf '%s\n' "${results[@]}" | awk -v hz="$hz" -v groups="$groups" -v secs="$SECS" \
    -v series="$SERIES" -v interval="$INTERVAL" '
    {
        name[NR] = $1
        rounds = $5 / groups
        if (rounds < 1) rounds = 1
        extra = ($4 - $2) / hz
        if (extra < 0) extra = 0
        per[NR] = extra * 1000 / rounds
        nr[NR] = rounds
    }
    END {
        printf "%d groups over ~%d series, every %ds, %ds measured\n", groups, series, interval, secs
        printf "%-12s %12s %16s\n", "system", "rounds", "cpu_ms/round"
        for (i = 1; i <= NR; i++)
            printf "%-12s %12.0f %16.2f\n", name[i], nr[i], per[i]
        if (per[1] > 0)
            printf "ratio (prometheus/vigil): cpu per round %.2fx\n", per[2] / per[1]
        else
            printf "ratio (prometheus/vigil): vigil cost below measurement resolution\n"
    }'
