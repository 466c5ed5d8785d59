#!/usr/bin/env bash
# bench/storage.sh — bytes on disk per sample: Vigil, Prometheus 2.42 and
# VictoriaMetrics on the same real dataset, in one run.
#
# Records SCRAPES scrapes (default 1250 = 5.2 h at 15 s) of a real
# prometheus-node-exporter and a real Prometheus server's own /metrics
# (bench/record_dataset.py), then loads the same samples into
#   Prometheus       promtool tsdb create-blocks-from openmetrics
#   VictoriaMetrics  POST /api/v1/import/prometheus, then /internal/force_flush
#   Vigil            vigil tsdb import
# and prints bytes/sample for each with the ratios.  Import time is printed
# too (wall seconds; not the append-cost benchmark).
#
#   bench/storage.sh [SCRAPES]       (CI's smoke runs it with 20)
#
# BENCH_DATASET=PATH keeps the recorded dataset as PATH.om and PATH.prom, and
# a later run with the same PATH loads those instead of recording again
# (comparing two Vigil builds on identical samples).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRAPES=${1:-1250}
source bench/lib.sh
bench_init storage.sh promtool prometheus prometheus-node-exporter victoria-metrics curl python3

# --- the dataset: real exporters ---
ds=${BENCH_DATASET:-$tmp/ds}
if [[ ! -s $ds.om || ! -s $ds.prom ]]; then
np=$(free_port); pp=$(free_port)
prometheus-node-exporter --web.listen-address=127.0.0.1:$np >/dev/null 2>&1 & pids+=($!)
printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' $pp > "$tmp/p.yml"
prometheus --config.file="$tmp/p.yml" --web.listen-address=127.0.0.1:$pp --storage.tsdb.path="$tmp/pdata" --log.level=error >/dev/null 2>&1 & pids+=($!)
wait_http http://127.0.0.1:$np/metrics
wait_http http://127.0.0.1:$pp/metrics
python3 bench/record_dataset.py "$ds" "$SCRAPES" 15 \
    "http://127.0.0.1:$np/metrics=node,host-1:9100" "http://127.0.0.1:$pp/metrics=prometheus,host-1:9090"
fi
samples=$(grep -vc '^#' "$ds.om")

# --- Prometheus ---
t0=$(date +%s.%N)
promtool tsdb create-blocks-from openmetrics "$ds.om" "$tmp/prom" >/dev/null
t1=$(date +%s.%N)
prom_bytes=$(du -sb "$tmp/prom" | cut -f1)
prom_chunks=$(find "$tmp/prom" -path '*chunks*' -type f -exec cat {} + | wc -c)

# --- VictoriaMetrics ---
vp=$(free_port)
victoria-metrics -storageDataPath="$tmp/vm" -httpListenAddr=127.0.0.1:$vp -retentionPeriod=100y \
    -loggerLevel=ERROR >/dev/null 2>&1 & vmpid=$!; pids+=($vmpid)
wait_http http://127.0.0.1:$vp/health
t2=$(date +%s.%N)
curl -fs --data-binary @"$ds.prom" http://127.0.0.1:$vp/api/v1/import/prometheus
curl -fs http://127.0.0.1:$vp/internal/force_flush >/dev/null
t3=$(date +%s.%N)
sleep 2
kill $vmpid; wait $vmpid 2>/dev/null || true   # a clean stop merges and flushes everything
# Its data parts and index; the cache/ directory it persists on shutdown is
# rebuilt from those and is not counted.
vm_bytes=$(du -sbc "$tmp/vm/data" "$tmp/vm/indexdb" | tail -1 | cut -f1)

# --- Vigil ---
t4=$(date +%s.%N)
"$VIGIL" tsdb import --storage.tsdb.path="$tmp/vigil" "$ds.om" >/dev/null
t5=$(date +%s.%N)
vigil_used=$("$VIGIL" tsdb stats "$tmp/vigil" | awk '/^Bytes on disk/ { print $4 }')
vigil_files=$(du -sb "$tmp/vigil" | cut -f1)

awk -v n="$samples" -v p="$prom_bytes" -v pc="$prom_chunks" -v vm="$vm_bytes" -v vu="$vigil_used" \
    -v vf="$vigil_files" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" -v t5="$t5" 'BEGIN {
    tp = t1 - t0; tvm = t3 - t2; tv = t5 - t4
    printf "dataset: %d samples\n", n
    printf "%-34s %12s %10s %9s\n", "store", "bytes", "B/sample", "import_s"
    printf "%-34s %12d %10.3f %9.2f\n", "prometheus 2.42 (blocks, total)", p, p / n, tp
    printf "%-34s %12d %10.3f\n", "prometheus 2.42 (chunks only)", pc, pc / n
    printf "%-34s %12d %10.3f %9.2f\n", "victoriametrics (data + indexdb)", vm, vm / n, tvm
    printf "%-34s %12d %10.3f %9.2f\n", "vigil (LMDB pages in use + WAL)", vu, vu / n, tv
    printf "%-34s %12d %10.3f\n", "vigil (files on disk)", vf, vf / n
    printf "ratios: prometheus/vigil %.2fx, victoriametrics/vigil %.2fx\n", p / vu, vm / vu
}'
