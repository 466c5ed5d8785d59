#!/usr/bin/env python3
"""bench/query_bench.py — the data and the query loop of bench/query.sh.

  query_bench.py gen PREFIX INSTANCES HOURS
      writes PREFIX.om (OpenMetrics, seconds: Vigil and promtool import it)
      and PREFIX.prom (text format, milliseconds: VictoriaMetrics imports it)
      with, per instance, request counters by handler and code, a request
      duration histogram and a CPU gauge, one sample a minute, ending now.
  query_bench.py run END REPEAT NAME=URL...
      runs the dashboard-and-alerts query set against each server REPEAT
      times (after one warm-up round) and prints one line per query:
      the median latency in ms per server, in the order given.
"""
import http.client
import json
import math
import statistics
import sys
import time
import urllib.parse

HANDLERS = ["/api/users", "/api/orders", "/api/search", "/health"]
CODES = ["200", "500"]
LES = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def gen(prefix, instances, hours):
    end = int(time.time()) // 60 * 60
    n = hours * 60
    om, prom = open(prefix + ".om", "w"), open(prefix + ".prom", "w")

    def put(name, labels, values):
        lab = ",".join('%s="%s"' % kv for kv in labels)
        for k, v in enumerate(values):
            t = end - (n - k) * 60
            om.write("%s{%s} %s %d\n" % (name, lab, v, t))
            prom.write("%s{%s} %s %d\n" % (name, lab, v, t * 1000))

    om.write("# TYPE cpu_usage gauge\n")
    for i in range(instances):
        inst = "host-%d:9100" % i
        put("cpu_usage", [("instance", inst), ("job", "node")],
            ["%.4f" % (0.5 + 0.4 * math.sin(k / 30.0 + i)) for k in range(n)])
    om.write("# TYPE http_requests counter\n")
    for i in range(instances):
        inst = "host-%d:9100" % i
        for h, handler in enumerate(HANDLERS):
            for code in CODES:
                rate = (10 + h + i % 7) * (0.02 if code == "500" else 1)
                put("http_requests_total", [("code", code), ("handler", handler), ("instance", inst),
                                            ("job", "api")], ["%.1f" % (rate * 60 * (k + 1)) for k in range(n)])
    om.write("# TYPE request_duration_seconds histogram\n")
    for i in range(instances):
        inst = "host-%d:9100" % i
        for b, le in enumerate(LES):
            share = min(1.0, 0.1 * (b + 1) ** 1.2)
            put("request_duration_seconds_bucket", [("instance", inst), ("job", "api"), ("le", le)],
                ["%.1f" % (50 * share * 60 * (k + 1)) for k in range(n)])
    om.write("# EOF\n")
    om.close()
    prom.close()
    print(end)


def queries(end):
    day, six = (end - 86400, end), (end - 21600, end)
    hour = (end - 3600, end)
    return [
        ("sum by instance rate 24h", "range", "sum by (instance) (rate(http_requests_total[5m]))", day, 60),
        ("p99 histogram 24h", "range",
         "histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket[5m])))", day, 60),
        ("error ratio 6h", "range",
         'sum(rate(http_requests_total{handler=~"/api/.*",code=~"5.."}[5m])) / '
         'sum(rate(http_requests_total{handler=~"/api/.*"}[5m]))', six, 60),
        ("avg cpu by instance 24h", "range", "avg by (instance) (cpu_usage)", day, 60),
        ("regex selector rate 1h", "range", 'rate(http_requests_total{instance=~"host-1.*"}[5m])', hour, 15),
        ("topk instances", "instant", "topk(5, sum by (instance) (rate(http_requests_total[5m])))", None, 0),
        ("count by code", "instant", "count by (code) (http_requests_total)", None, 0),
        ("alert: error ratio", "instant",
         'sum by (instance) (rate(http_requests_total{code="500"}[5m])) / '
         "sum by (instance) (rate(http_requests_total[5m])) > 0.01", None, 0),
        ("alert: cpu max 1h", "instant", "max_over_time(cpu_usage[1h]) > 0.8", None, 0),
        ("quantile_over_time 1h", "instant", "quantile_over_time(0.9, cpu_usage[1h])", None, 0),
    ]


def ask(conn, path, params):
    body = urllib.parse.urlencode(params)
    t0 = time.perf_counter()
    conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    data = r.read()
    dt = time.perf_counter() - t0
    doc = json.loads(data)
    if r.status != 200 or doc.get("status") != "success":
        raise SystemExit("query failed (%d): %s" % (r.status, data[:300]))
    return dt, len(doc["data"]["result"])


def run(end, repeat, targets):
    conns = []
    for name, url in targets:
        u = urllib.parse.urlparse(url)
        conns.append((name, http.client.HTTPConnection(u.hostname, u.port, timeout=300)))
    print("%-26s" % "query" + "".join("%19s" % (n + "_ms") for n, _ in conns) + "%8s" % "series")
    for label, kind, q, rng, step in queries(end):
        meds, nres = [], None
        for name, conn in conns:
            params = [("query", q)]
            if kind == "range":
                params += [("start", rng[0]), ("end", rng[1]), ("step", step)]
                path = "/api/v1/query_range"
            else:
                params += [("time", end)]
                path = "/api/v1/query"
            if name == "victoriametrics":
                params.append(("nocache", "1"))  # measure evaluation, not its result cache
            ask(conn, path, params)  # warm-up: page cache and connection
            times = []
            for _ in range(repeat):
                dt, n = ask(conn, path, params)
                times.append(dt)
            nres = n if nres is None else nres
            meds.append(statistics.median(times) * 1000)
        print("%-26s" % label + "".join("%19.2f" % m for m in meds) + "%8d" % nres)
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        run(int(sys.argv[2]), int(sys.argv[3]), [a.split("=", 1) for a in sys.argv[4:]])
