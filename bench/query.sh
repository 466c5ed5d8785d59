#!/usr/bin/env bash
# bench/query.sh — query latency: Vigil, Prometheus 2.42 and
# VictoriaMetrics answering the same dashboard-and-alerts query set over the
# same data, one after the other, in one run.
#
# bench/query_bench.py generates INSTANCES hosts' request counters (by
# handler and code), a 10-bucket latency histogram and a CPU gauge, one
# sample a minute over HOURS hours; each system imports it (vigil tsdb
# import, promtool tsdb create-blocks-from openmetrics, VictoriaMetrics'
# /api/v1/import/prometheus), then answers each query REPEAT times; the
# median latency per query and system is printed with the ratios.
# VictoriaMetrics is asked with nocache=1 so that its rollup result cache
# does not answer repeats.
#
#   bench/query.sh [INSTANCES] [HOURS] [REPEAT]
#   (defaults 200 24 7; CI's smoke: 5 2 1)
set -euo pipefail
cd "$(dirname "$0")/.."
INSTANCES=${1:-200} HOURS=${2:-24} REPEAT=${3:-7}
source bench/lib.sh
bench_init query.sh promtool prometheus victoria-metrics curl python3

end=$(python3 bench/query_bench.py gen "$tmp/ds" "$INSTANCES" "$HOURS")
echo "dataset: $(grep -vc '^#' "$tmp/ds.om") samples, $INSTANCES instances, ${HOURS}h at 60s" >&2

"$VIGIL" tsdb import --storage.tsdb.path="$tmp/vigil" "$tmp/ds.om" >/dev/null
promtool tsdb create-blocks-from openmetrics "$tmp/ds.om" "$tmp/prom" >/dev/null
printf 'global: {}\n' > "$tmp/empty.yml"

vport=$(free_port); pport=$(free_port); mport=$(free_port)
"$VIGIL" --config.file="$tmp/empty.yml" --web.listen-address=127.0.0.1:$vport \
    --storage.tsdb.path="$tmp/vigil" --storage.tsdb.retention.time=100y --log.level=error & pids+=($!)
prometheus --config.file="$tmp/empty.yml" --web.listen-address=127.0.0.1:$pport \
    --storage.tsdb.path="$tmp/prom" --storage.tsdb.retention.time=100y --log.level=error \
    >/dev/null 2>&1 & pids+=($!)
victoria-metrics -storageDataPath="$tmp/vm" -httpListenAddr=127.0.0.1:$mport -retentionPeriod=100y \
    -search.disableCache -loggerLevel=ERROR >/dev/null 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$vport/-/ready"
wait_http "http://127.0.0.1:$pport/-/ready"
wait_http "http://127.0.0.1:$mport/health"
curl -fs --data-binary @"$tmp/ds.prom" "http://127.0.0.1:$mport/api/v1/import/prometheus"
curl -fs "http://127.0.0.1:$mport/internal/force_flush" >/dev/null
sleep 2

python3 bench/query_bench.py run "$end" "$REPEAT" vigil=http://127.0.0.1:$vport \
    prometheus=http://127.0.0.1:$pport victoriametrics=http://127.0.0.1:$mport | tee "$tmp/out"
python3 - "$tmp/out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
v = [float(r[-4]) for r in rows]; p = [float(r[-3]) for r in rows]; m = [float(r[-2]) for r in rows]
print("ratios: prometheus/vigil on every query >= %.2fx (median %.2fx); "
      "victoriametrics/vigil on the median %.2fx"
      % (min(b / a for a, b in zip(v, p)), statistics.median(b / a for a, b in zip(v, p)),
         statistics.median(m) / statistics.median(v)))
PY
