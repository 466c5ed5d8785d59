"""PromQL differential test: a few hundred queries, every function and
operator in the shapes dashboards and alert rules use, evaluated by Vigil
and by Prometheus 2.42 on the same imported dataset — as instant queries at
several times and as range queries — compared value by value (relative
tolerance 1e-9, NaN equals NaN, same label sets, same order where the
order is defined).

Vigil follows Prometheus 3.x; where 2.42's older semantics give another
answer, the query is listed with the reason in promql_differences.txt next
to this file and is only checked to run.  Evaluation times sit off the
15 s sample grid so that 2.42's closed range windows and 3.x's left-open
ones see the same samples.
"""
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from vigil_e2e import VIGIL_BIN, Vigil, free_port, main

HERE = os.path.dirname(os.path.abspath(__file__))
STEP = 15


def dataset(path, now):
    """Counters (with a reset), gauges, a classic histogram and an info
    metric, over 2 hours at 15 s."""
    rows = []
    n = 480
    for job in ("api", "web"):
        for inst in ("a:1", "b:2"):
            for code in ("200", "500"):
                rate = (3 if code == "200" else 0.2) * (2 if job == "web" else 1) * (1.5 if inst == "b:2" else 1)
                v = 0.0
                for k in range(n):
                    if inst == "b:2" and k == 300:
                        v = 0.0  # a counter reset
                    v += rate * STEP
                    rows.append(('http_requests_total{job="%s",instance="%s",code="%s"}' % (job, inst, code), v, k))
            for k in range(n):
                rows.append(('cpu_usage{job="%s",instance="%s"}' % (job, inst),
                             0.3 + 0.2 * math.sin(k / 20.0) + (0.1 if inst == "b:2" else 0), k))
                rows.append(('memory_bytes{job="%s",instance="%s"}' % (job, inst),
                             1e9 + 1e6 * k + (5e8 if job == "web" else 0), k))
            cum = [0.0] * 6
            les = ["0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
            share = [0.5, 0.2, 0.15, 0.1, 0.04, 0.01]
            total = 0.0
            for k in range(n):
                c = 4 * (2 if job == "web" else 1)
                acc = 0.0
                for i in range(6):
                    acc += share[i] * c * STEP
                    cum[i] += share[i] * c * STEP
                total += c * STEP * 0.21
                run = 0.0
                for i, le in enumerate(les):
                    run = sum(cum[: i + 1])
                    rows.append(('request_duration_seconds_bucket{job="%s",instance="%s",le="%s"}'
                                 % (job, inst, le), run, k))
                rows.append(('request_duration_seconds_sum{job="%s",instance="%s"}' % (job, inst), total, k))
                rows.append(('request_duration_seconds_count{job="%s",instance="%s"}' % (job, inst),
                             sum(cum), k))
    for k in range(n):
        rows.append(('build_info{version="1.2.3",job="api",instance="a:1"}', 1, k))
        rows.append(('temperature{room="kitchen"}', 20 + (k % 50) / 10.0, k))
        rows.append(('temperature{room="garage"}', 5 - (k % 30) / 10.0, k))
        if k < 200:
            rows.append(('disappearing{x="1"}', k, k))
    lines = ["%s %r %d" % (name, float(v), now - (n - k) * STEP) for name, v, k in rows]

    def fam(l):
        name = l.split("{")[0]
        for suf in ("_total", "_bucket", "_sum", "_count"):
            if name.endswith(suf):
                return name[: -len(suf)]
        return name

    lines.sort(key=lambda l: (fam(l), l.rsplit(" ", 2)[0], int(l.rsplit(" ", 1)[1])))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n# EOF\n")


def queries():
    c = "http_requests_total"
    g = "cpu_usage"
    q = []
    # Selectors and matchers.
    q += ['%s' % c, '%s{code="500"}' % c, '%s{code!="200"}' % c, '%s{job=~"a.*"}' % c,
          '%s{job!~"w.+",code=~"2.."}' % c, '{__name__=~"cpu_.*|memory_bytes"}', 'temperature offset 10m',
          '%s{instance=~"a:1|b:2"}' % g, 'temperature @ %(t)s', 'cpu_usage offset -5m']
    # Range functions over counters and gauges.
    for f in ("rate", "irate", "increase", "resets"):
        for w in ("1m", "5m", "20m"):
            q.append("%s(%s[%s])" % (f, c, w))
    for f in ("delta", "idelta", "deriv", "changes"):
        for w in ("2m", "10m"):
            q.append("%s(%s[%s])" % (f, g, w))
    for f in ("avg", "min", "max", "sum", "count", "last", "present", "stddev", "stdvar", "mad",
              "absent"):
        q.append("%s_over_time(%s[10m])" % (f, g))
    q += ["quantile_over_time(0.9, %s[30m])" % g, "quantile_over_time(0.5, temperature[1h])",
          "predict_linear(memory_bytes[30m], 3600)", "predict_linear(%s[10m], 600)" % g,
          "holt_winters(%s[10m], 0.5, 0.5)" % g, "absent_over_time(nothing[5m])",
          "rate(%s[5m] offset 30m)" % c, "max_over_time(rate(%s[1m])[10m:1m])" % c,
          "avg_over_time(%s[30m:2m])" % g, "min_over_time(%s[10m:] offset 5m)" % g,
          "sum_over_time(disappearing[10m])", "last_over_time(disappearing[2h])"]
    # Aggregations.
    for a in ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"):
        q.append("%s(rate(%s[5m]))" % (a, c))
        q.append("%s by (job) (rate(%s[5m]))" % (a, c))
        q.append("%s without (instance, code) (rate(%s[5m]))" % (a, c))
    q += ["topk(3, rate(%s[5m]))" % c, "bottomk(2, %s)" % g, "topk by (job) (1, %s)" % g,
          "quantile(0.9, %s)" % g, "quantile by (job) (0.5, rate(%s[5m]))" % c,
          'count_values("v", build_info)', 'count_values by (job) ("bucket", round(%s * 10))' % g,
          "sum(%s) by (job)" % g, "count(count by (job) (%s))" % c]
    # Binary operators, matching, set operators.
    for op in ("+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="):
        q.append("%s %s 0.4" % (g, op))
        q.append("memory_bytes %s on(job, instance) %s" % (op, g))
    for op in ("==", ">", "<="):
        q.append("%s %s bool 0.4" % (g, op))
    q += ["rate(%s{code=\"500\"}[5m]) / ignoring(code) rate(%s{code=\"200\"}[5m])" % (c, c),
          "sum by (job, instance) (rate(%s[5m])) / on(job, instance) group_left %s" % (c, g),
          "%s * on(job, instance) group_left(version) build_info" % g,
          "build_info * on(job, instance) group_right(version) %s" % g,
          "%s and %s > 0.4" % (g, g), "%s or temperature" % g, "%s unless %s > 0.4" % (g, g),
          "%s and on(job) memory_bytes" % g, "-%s" % g, "+%s" % g, "2 ^ 3 ^ 2", "-2 ^ 2",
          "1 / 0", "-1 / 0", "0 / 0", "10 % 3", "atan2(%s, 0.5)" % g, "%s atan2 %s" % (g, g),
          "vector(1) + vector(2)", "time() - 100", "scalar(sum(%s)) * 2" % g,
          "sum(rate(%s[5m])) by (job) > bool 5" % c]
    # Classic histograms.
    b = "request_duration_seconds_bucket"
    for phi in ("0", "0.5", "0.9", "0.99", "1"):
        q.append("histogram_quantile(%s, sum by (le) (rate(%s[5m])))" % (phi, b))
    q += ["histogram_quantile(0.95, sum by (job, le) (rate(%s[10m])))" % b,
          "histogram_quantile(0.9, rate(%s[5m]))" % b,
          "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
          "histogram_quantile(1.5, sum by (le) (rate(%s[5m])))" % b]
    # Math, clamps, rounding, time functions.
    for f in ("abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "sin", "cos",
              "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "atanh", "deg", "rad"):
        q.append("%s(%s)" % (f, g))
    q += ["acosh(memory_bytes)", "round(%s, 0.1)" % g, "round(%s)" % g, "clamp(%s, 0.2, 0.4)" % g,
          "clamp_min(%s, 0.35)" % g, "clamp_max(%s, 0.35)" % g, "pi()",
          "timestamp(%s)" % g, "day_of_month()", "day_of_week()", "day_of_year()",
          "days_in_month()", "hour()", "minute()", "month()", "year()",
          "hour(timestamp(%s))" % g, "vector(time())", "scalar(temperature)",
          'absent(nothing{job="x"})', "absent(%s)" % g]
    # Labels and sorting.
    q += ['label_replace(%s, "host", "$1", "instance", "(.*):.*")' % g,
          'label_replace(%s, "x", "y", "nolabel", "")' % g,
          'label_join(%s, "both", "/", "job", "instance")' % g,
          "sort(%s)" % g, "sort_desc(%s)" % g, "sort(rate(%s[5m]))" % c]
    # Subqueries and @.
    q += ["rate(%s[5m] @ %%(t)s)" % c, "max_over_time(%s[30m:5m] @ %%(t)s)" % g,
          "sum(rate(%s[5m])) @ %%(t)s" % c, "deriv(sum(%s)[10m:1m])" % g]
    # Names dropped from series that differ only by name: an error without
    # delayed name removal (Prometheus's default), in range queries too.
    q += ['sum by (job) (rate({__name__=~"cpu_usage|memory_bytes"}[5m]))',
          'abs({__name__=~"cpu_usage|memory_bytes"})',
          'last_over_time({__name__=~"cpu_usage|memory_bytes"}[5m])']
    # Alert-rule and dashboard shapes.
    q += ["sum by (job) (rate(%s{code=\"500\"}[5m])) / sum by (job) (rate(%s[5m])) > 0.05" % (c, c),
          "count by (job) (%s > 0.4)" % g, "topk(1, sum by (instance) (rate(%s[5m])))" % c,
          "max by (job) (memory_bytes) / 1e9", "(1 - avg by (instance) (%s)) * 100" % g,
          "predict_linear(memory_bytes[1h], 4 * 3600) > 2e9", "increase(%s[1h]) > 1000" % c,
          "changes(build_info[1h]) > 0", "rate(%s[5m]) and on() hour() >= 0" % c,
          "absent(%s{job=\"nope\"} == 1)" % g, "avg_over_time((%s > bool 0.4)[30m:1m])" % g,
          "sum(increase(%s[10m])) without (code)" % c,
          "histogram_quantile(0.99, sum by (le, job) (increase(request_duration_seconds_bucket[30m])))"]
    return q


def parse_differences():
    out = {}
    with open(os.path.join(HERE, "promql_differences.txt")) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            q, _, why = line.partition("\t")
            out[q] = why
    return out


def num(s):
    return float(s)


def same_value(a, b):
    x, y = num(a), num(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y))


@unittest.skipUnless(shutil.which("prometheus") and shutil.which("promtool"),
                     "prometheus 2.42 not installed")
class PromqlVsPrometheus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-promqldiff-")
        cls.now = (int(time.time()) // STEP) * STEP
        om = os.path.join(cls.tmp, "data.om")
        dataset(om, cls.now)
        cls.v = Vigil(tmpdir=cls.tmp, config_text="global: {}\n")
        subprocess.run([VIGIL_BIN, "tsdb", "import", "--storage.tsdb.path=" + cls.v.data, om],
                       check=True, capture_output=True)
        cls.v.start()
        pdata = os.path.join(cls.tmp, "prom")
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, pdata],
                       check=True, capture_output=True)
        cls.pport = free_port()
        cls.prom = subprocess.Popen(["prometheus", "--config.file=" + cls.v.config_file,
                                     "--web.listen-address=127.0.0.1:%d" % cls.pport,
                                     "--storage.tsdb.path=" + pdata, "--log.level=error"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                if urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % cls.pport).status == 200:
                    break
            except OSError:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.prom.terminate()
        cls.prom.wait()
        cls.v.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def ask(self, port, path, params):
        data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def compare(self, q, vj, pj):
        """None when equal, else a reason."""
        if vj["status"] != pj["status"]:
            return "status %s vs %s: %s / %s" % (vj["status"], pj["status"], vj.get("error"),
                                                 pj.get("error"))
        if vj["status"] == "error":
            return None if vj["errorType"] == pj["errorType"] else "errorType differs"
        vd, pd = vj["data"], pj["data"]
        if vd["resultType"] != pd["resultType"]:
            return "resultType %s vs %s" % (vd["resultType"], pd["resultType"])
        if vd["resultType"] in ("scalar", "string"):
            ok = vd["result"][0] == pd["result"][0] and (
                vd["result"][1] == pd["result"][1] if vd["resultType"] == "string"
                else same_value(vd["result"][1], pd["result"][1]))
            return None if ok else "%s vs %s" % (vd["result"], pd["result"])
        key = lambda s: json.dumps(s["metric"], sort_keys=True)
        vr, pr = vd["result"], pd["result"]
        ordered = q.startswith(("sort(", "sort_desc(")) and vd["resultType"] == "vector"
        if not ordered:
            vr, pr = sorted(vr, key=key), sorted(pr, key=key)
        if [key(s) for s in vr] != [key(s) for s in pr]:
            return "series differ: %s vs %s" % ([key(s) for s in vr][:5], [key(s) for s in pr][:5])
        for a, b in zip(vr, pr):
            pa = a.get("values") or [a["value"]]
            pb = b.get("values") or [b["value"]]
            if [p[0] for p in pa] != [p[0] for p in pb]:
                return "timestamps differ for %s" % key(a)
            for x, y in zip(pa, pb):
                if not same_value(x[1], y[1]):
                    return "value at %s differs for %s: %s vs %s" % (x[0], key(a), x[1], y[1])
        return None

    def run_all(self, mode):
        diffs = parse_differences()
        qs = queries()
        self.assertGreaterEqual(len(qs), 200)
        failures, checked = [], 0
        times = [self.now - 7, self.now - 1800 - 7, self.now - 5400 + 3]
        for tmpl in qs:
            q = tmpl % {"t": self.now - 3600 + 0.5} if "%(t)s" in tmpl else tmpl
            if mode == "instant":
                cases = [("/api/v1/query", [("query", q), ("time", str(t))]) for t in times]
            else:
                cases = [("/api/v1/query_range", [("query", q), ("start", str(self.now - 3600 + 7)),
                                                  ("end", str(self.now - 7)), ("step", "60")]),
                         ("/api/v1/query_range", [("query", q), ("start", str(self.now - 600 + 4)),
                                                  ("end", str(self.now)), ("step", "45")])]
            for path, params in cases:
                vj = self.ask(self.v.port, path, params)
                pj = self.ask(self.pport, path, params)
                if tmpl in diffs:
                    self.assertIn(vj["status"], ("success", "error"))
                    continue
                why = self.compare(q, vj, pj)
                checked += 1
                if why:
                    failures.append("%s %s: %s" % (path, q, why))
        self.assertEqual(failures, [], "\n".join(failures[:40]))
        self.assertGreater(checked, 400)

    def test_instant_queries(self):
        self.run_all("instant")

    def test_range_queries(self):
        self.run_all("range")


if __name__ == "__main__":
    main()
