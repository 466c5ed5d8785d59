"""Label, series and status endpoints, compared with Prometheus 2.42.

The same OpenMetrics data is loaded into Vigil (`vigil tsdb import`) and
into Prometheus (`promtool tsdb create-blocks-from openmetrics`); both
servers then answer the same label / label values / series requests and the
JSON data must be equal.  Status endpoints are checked for the shapes
Grafana reads.
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


def make_dataset(path, now):
    """Three metrics, a few label combinations, 40 samples each, ending now."""
    series = []
    # Distinct values per series: topk/bottomk tie order is not specified.
    for n, (job, inst) in enumerate((j, i) for j in ("api", "db") for i in ("a:1", "b:2")):
        series.append(('http_requests_total{job="%s",instance="%s",code="200"}' % (job, inst),
                       1.5 + 0.25 * n))
        series.append(('up{job="%s",instance="%s"}' % (job, inst), 0))
    series.append(('temperature{room="kitchen",sensor="x y\\"z"}', 20.25))
    out = []
    for name, base in series:
        for k in range(40):
            t = now - (40 - k) * 15
            value = base + k if not name.startswith("up") else (k + len(name)) % 2
            out.append("%s %s %.3f" % (name, value, t))
    # OpenMetrics wants each family's samples together.
    fam = lambda l: l.split("{")[0].replace("_total", "")
    out.sort(key=lambda l: (fam(l), l.rsplit(" ", 2)[0], float(l.rsplit(" ", 1)[1])))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n# EOF\n")


def get(port, path, params=None, post=False):
    data = urllib.parse.urlencode(params or [], doseq=True)
    url = "http://127.0.0.1:%d%s" % (port, path)
    req = urllib.request.Request(url + ("" if post or not data else "?" + data),
                                 data=data.encode() if post else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class LabelsApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-api-")
        cls.now = int(time.time())
        om = os.path.join(cls.tmp, "data.om")
        make_dataset(om, cls.now)
        cls.v = Vigil(tmpdir=cls.tmp)
        subprocess.run([VIGIL_BIN, "tsdb", "import", "--storage.tsdb.path=" + cls.v.data, om],
                       check=True, capture_output=True)
        cls.v.start()
        cls.prom = None
        if shutil.which("prometheus") and shutil.which("promtool"):
            pdata = os.path.join(cls.tmp, "prom")
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, pdata],
                           check=True, capture_output=True)
            cfg = os.path.join(cls.tmp, "p.yml")
            with open(cfg, "w") as f:
                f.write("global: {}\n")
            cls.pport = free_port()
            cls.prom = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                                         "--web.listen-address=127.0.0.1:%d" % cls.pport,
                                         "--storage.tsdb.path=" + pdata, "--log.level=error"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(200):
                try:
                    if urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % cls.pport).status == 200:
                        break
                except OSError:
                    time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.prom:
            cls.prom.terminate()
            cls.prom.wait()
        cls.v.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def both(self, path, params=None, post=False):
        vs, vj = get(self.v.port, path, params, post)
        if not self.prom:
            return vs, vj, None, None
        ps, pj = get(self.pport, path, params, post)
        return vs, vj, ps, pj

    def assert_same(self, path, params=None, post=False, key=None):
        vs, vj, ps, pj = self.both(path, params, post)
        self.assertEqual(vs, 200, vj)
        self.assertEqual(vj["status"], "success")
        if pj is None:
            return vj
        self.assertEqual(ps, 200, pj)
        vd, pd = vj["data"], pj["data"]
        if key:
            vd, pd = sorted(vd, key=key), sorted(pd, key=key)
        self.assertEqual(vd, pd, "%s %s" % (path, params))
        return vj

    def test_label_names(self):
        j = self.assert_same("/api/v1/labels")
        self.assertIn("__name__", j["data"])
        self.assert_same("/api/v1/labels", post=True)
        self.assert_same("/api/v1/labels", [("match[]", "up")])
        self.assert_same("/api/v1/labels", [("match[]", "temperature"), ("match[]", 'up{job="db"}')])

    def test_label_values(self):
        if self.prom:  # the oracle must really be answering
            self.assertEqual(get(self.pport, "/api/v1/label/__name__/values")[1]["data"],
                             ["http_requests_total", "temperature", "up"])
        j = self.assert_same("/api/v1/label/__name__/values")
        self.assertEqual(j["data"], ["http_requests_total", "temperature", "up"])
        self.assert_same("/api/v1/label/instance/values")
        self.assert_same("/api/v1/label/job/values", [("match[]", 'http_requests_total{instance="a:1"}')])
        self.assert_same("/api/v1/label/sensor/values")
        self.assert_same("/api/v1/label/nosuch/values")

    def test_series(self):
        key = lambda d: json.dumps(d, sort_keys=True)
        self.assert_same("/api/v1/series", [("match[]", "up")], key=key)
        self.assert_same("/api/v1/series", [("match[]", '{__name__=~"up|temperature"}'),
                                            ("match[]", 'up{job="api"}')], post=True, key=key)
        self.assert_same("/api/v1/series", [("match[]", "up"), ("start", self.now - 100),
                                            ("end", self.now)], key=key)

    def test_errors(self):
        s, j = get(self.v.port, "/api/v1/series")
        self.assertEqual((s, j["errorType"], j["error"]), (400, "bad_data", "no match[] parameter provided"))
        s, j = get(self.v.port, "/api/v1/labels", [("match[]", "up{")])
        self.assertEqual((s, j["errorType"]), (400, "bad_data"))
        self.assertTrue(j["error"].startswith('invalid parameter "match[]": 1:4: parse error'), j["error"])
        s, j = get(self.v.port, "/api/v1/labels", [("start", "yesterday")])
        self.assertEqual(j["error"], 'invalid parameter "start": cannot parse "yesterday" to a valid timestamp')

    def test_limit_truncates_with_warning(self):
        s, j = get(self.v.port, "/api/v1/label/__name__/values", [("limit", "2")])
        self.assertEqual(j["data"], ["http_requests_total", "temperature"])
        self.assertEqual(j["warnings"], ["results truncated due to limit"])

    def test_escaped_label_name_in_path(self):
        s, j = get(self.v.port, "/api/v1/label/U__ro_6f_m/values")
        self.assertEqual(j["data"], ["kitchen"])

    def test_buildinfo_for_grafana(self):
        s, j = get(self.v.port, "/api/v1/status/buildinfo")
        self.assertEqual(s, 200)
        self.assertNotIn("features", j["data"])
        major, minor, patch = j["data"]["version"].split(".")
        self.assertGreaterEqual(int(major), 3)

    def test_flags_and_runtimeinfo(self):
        s, j = get(self.v.port, "/api/v1/status/flags")
        self.assertEqual(j["data"]["storage.tsdb.retention.time"], "15d")
        self.assertEqual(j["data"]["web.listen-address"], "127.0.0.1:%d" % self.v.port)
        s, j = get(self.v.port, "/api/v1/status/runtimeinfo")
        self.assertEqual(j["data"]["storageRetention"], "15d")
        self.assertTrue(j["data"]["reloadConfigSuccess"])

    def test_tsdb_status(self):
        s, j = get(self.v.port, "/api/v1/status/tsdb")
        d = j["data"]
        for k in ("headStats", "seriesCountByMetricName", "labelValueCountByLabelName",
                  "memoryInBytesByLabelName", "seriesCountByLabelValuePair"):
            self.assertIn(k, d)
        names = {e["name"]: e["value"] for e in d["seriesCountByMetricName"]}
        self.assertEqual(names, {"http_requests_total": 4, "up": 4, "temperature": 1})

    def norm(self, data):
        """Result order of instant vectors is not part of the contract."""
        if data.get("resultType") in ("vector", "matrix"):
            data["result"].sort(key=lambda x: json.dumps(x["metric"], sort_keys=True))
        return data

    def assert_same_answer(self, vj, pj, q):
        if vj["status"] == "error" or pj["status"] == "error":
            self.assertEqual((vj["status"], vj.get("errorType")), (pj["status"], pj.get("errorType")),
                             "%s: %s vs %s" % (q, vj, pj))
            return
        self.assert_results_equal(vj["data"], pj["data"], q)

    def assert_results_equal(self, a, b, q):
        """Values may differ in the last bits: Prometheus 3 (which Vigil
        follows) orders some float operations differently from 2.42 (e.g.
        rate's extrapolation factor), so numbers compare within 1e-12."""
        def close(x, y):
            if isinstance(x, str) and isinstance(y, str):
                try:
                    fx, fy = float(x), float(y)
                except ValueError:
                    return x == y
                if fx == fy or (math.isnan(fx) and math.isnan(fy)):
                    return True
                return abs(fx - fy) <= 1e-12 * max(abs(fx), abs(fy))
            if isinstance(x, list) and isinstance(y, list):
                return len(x) == len(y) and all(close(i, j) for i, j in zip(x, y))
            if isinstance(x, dict) and isinstance(y, dict):
                return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
            return x == y
        self.assertTrue(close(self.norm(a), self.norm(b)), "%s:\nvigil %s\nprom  %s" % (q, a, b))

    QUERIES = [
        "up", "up == 0", "http_requests_total", 'http_requests_total{job="api"}',
        "rate(http_requests_total[5m])", "increase(http_requests_total[2m])",
        "sum by (job) (http_requests_total)", "sum without (instance) (rate(http_requests_total[1m]))",
        "avg(temperature)", "temperature * 2 + 1", "count(up)", "max_over_time(temperature[10m])",
        "topk(2, http_requests_total)", "http_requests_total / on(job, instance) group_left up",
        "absent(nosuch)", "label_replace(up, \"host\", \"$1\", \"instance\", \"(.*):.*\")",
        "1 + 1", "time() > 0", "vector(3)", "scalar(count(up))",
        "histogram_quantile(0.9, rate(http_requests_total[5m]))", "deriv(temperature[5m])",
        "predict_linear(temperature[5m], 60)", "changes(temperature[10m])", "resets(up[10m])",
    ]

    def test_instant_queries_match_prometheus(self):
        if not self.prom:
            self.skipTest("prometheus not installed")
        for q in self.QUERIES:
            for t in (self.now - 300, self.now - 1):
                params = [("query", q), ("time", t)]
                vs, vj, ps, pj = self.both("/api/v1/query", params)
                self.assertEqual(vs, ps, "%s: %s vs %s" % (q, vj, pj))
                self.assert_same_answer(vj, pj, q)

    def test_range_queries_match_prometheus(self):
        if not self.prom:
            self.skipTest("prometheus not installed")
        for q in self.QUERIES:
            # Steps off the sample grid: 2.42's ranges are closed [t-r, t],
            # Prometheus 3's (and Vigil's) left-open (t-r, t].
            params = [("query", q), ("start", self.now - 593), ("end", self.now + 7), ("step", "30")]
            vs, vj, ps, pj = self.both("/api/v1/query_range", params, post=True)
            self.assertEqual(vs, ps, "%s: %s vs %s" % (q, vj, pj))
            self.assert_same_answer(vj, pj, q)

    def test_query_errors_match_prometheus(self):
        cases = [
            ("/api/v1/query", [("query", "sum(")]),
            ("/api/v1/query", [("query", "up"), ("time", "noon")]),
            ("/api/v1/query_range", [("query", "up"), ("start", "10"), ("end", "5"), ("step", "1")]),
            ("/api/v1/query_range", [("query", "up"), ("start", "0"), ("end", "100000"), ("step", "1")]),
            ("/api/v1/query_range", [("query", "up"), ("start", "0"), ("end", "10"), ("step", "0")]),
            ("/api/v1/query", [("query", "up + on(job) up")]),
        ]
        for path, params in cases:
            vs, vj, ps, pj = self.both(path, params)
            self.assertEqual(vj["status"], "error", params)
            if pj is not None:
                self.assertEqual((vs, vj["errorType"]), (ps, pj["errorType"]), "%s %s" % (params, vj))

    def federate(self, port, matches):
        q = urllib.parse.urlencode([("match[]", m) for m in matches])
        with urllib.request.urlopen("http://127.0.0.1:%d/federate?%s" % (port, q), timeout=10) as r:
            return r.status, r.read().decode()

    def test_federate_like_prometheus(self):
        for matches in (["up"], ['{__name__=~".+"}'], ["temperature", 'up{job="db"}', "up"]):
            vs, vbody = self.federate(self.v.port, matches)
            self.assertEqual(vs, 200)
            self.assertIn("# TYPE", vbody)
            if self.prom:
                ps, pbody = self.federate(self.pport, matches)
                self.assertEqual(vbody, pbody, matches)
        try:
            self.federate(self.v.port, [])
            self.fail("no match[] must be refused")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 400)

    def test_format_query_like_prometheus(self):
        for q in ("sum(rate(x[5m])) by (job)", "a+b*c", "sum(", 'up{job="a",instance=~"x.*"} offset 5m',
                  "-(a) ^ 2", "rate(http_requests_total{job=\"api\"}[5m]) / ignoring(code) group_left "
                  "sum without (code) (rate(http_requests_total[5m]))"):
            vs, vj, ps, pj = self.both("/api/v1/format_query", [("query", q)], post=True)
            if pj is not None:
                self.assertEqual((vs, vj), (ps, pj), q)
            else:
                self.assertIn(vs, (200, 400))

    def test_query_stats_like_prometheus(self):
        # The statistics object's shape, and the samples it counts, over the
        # same data: timings differ by nature, the sample counts must not.
        cases = [("/api/v1/query", [("query", "up"), ("time", self.now - 1)]),
                 ("/api/v1/query", [("query", "rate(http_requests_total[5m])"), ("time", self.now - 1)]),
                 ("/api/v1/query_range", [("query", "sum(up)"), ("start", self.now - 300),
                                          ("end", self.now), ("step", "60")])]
        timing_keys = ["evalTotalTime", "resultSortTime", "queryPreparationTime",
                       "innerEvalTime", "execQueueTime", "execTotalTime"]
        for path, params in cases:
            for mode in ("1", "all"):
                vs, vj, ps, pj = self.both(path, params + [("stats", mode)])
                self.assertEqual(vs, 200, vj)
                st = vj["data"]["stats"]
                self.assertEqual(list(st["timings"].keys()), timing_keys)
                # Per-step counts need --enable-feature=promql-per-step-stats.
                self.assertNotIn("totalQueryableSamplesPerStep", st["samples"])
                if pj is None:
                    continue
                pst = pj["data"]["stats"]
                self.assertEqual(list(pst["samples"].keys()), list(st["samples"].keys()))
                self.assertEqual(st["samples"]["totalQueryableSamples"],
                                 pst["samples"]["totalQueryableSamples"], params)
            vs, vj = get(self.v.port, path, params)
            self.assertNotIn("stats", vj["data"])

    def test_query_limit(self):
        s, j = get(self.v.port, "/api/v1/query", [("query", "up"), ("time", self.now - 1), ("limit", "2")])
        self.assertEqual(len(j["data"]["result"]), 2, j)
        self.assertEqual(j["warnings"], ["results truncated due to limit"])
        s, j = get(self.v.port, "/api/v1/query", [("query", "up"), ("limit", "x")])
        self.assertEqual((s, j["errorType"]), (400, "bad_data"))

    def promtool(self, port, *args):
        p = subprocess.run(["promtool", "query"] + list(args[:1]) +
                           ["http://127.0.0.1:%d" % port] + list(args[1:]),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_promtool_query_prints_the_same(self):
        if not self.prom:
            self.skipTest("prometheus not installed")
        t = str(self.now - 1)
        cases = [("instant", "--time=" + t, "up"),
                 ("instant", "--time=" + t, "sum by (job) (rate(http_requests_total[5m]))"),
                 ("instant", "--time=" + t, "scalar(sum(up))"),
                 ("range", "--start=%d" % (self.now - 300), "--end=" + t, "--step=1m",
                  "rate(http_requests_total[5m])"),
                 ("series", "--match=up", "--match=temperature"),
                 ("labels", "job"),
                 ("labels", "__name__"),
                 ("instant", "--time=" + t, "sum(")]
        for args in cases:
            mine, theirs = self.promtool(self.v.port, *args), self.promtool(self.pport, *args)
            # An instant vector's order is the storage's: Prometheus's
            # compacted blocks give label order, its head (and Vigil)
            # creation order.  Compare those lines as sets.
            if args[0] == "instant":
                mine = (mine[0], sorted(mine[1].splitlines()), mine[2])
                theirs = (theirs[0], sorted(theirs[1].splitlines()), theirs[2])
            self.assertEqual(mine, theirs, args)

    def test_deeply_nested_queries_are_refused(self):
        # Bad input gets an error, never a stack overflow: a left-deep
        # chain, nested parentheses, unary minus and aggregations.
        for q in ("1" + "+1" * 200000, "(" * 100000 + "1" + ")" * 100000, "-" * 100000 + "1",
                  "sum(" * 5000 + "up" + ")" * 5000):
            s, j = get(self.v.port, "/api/v1/query", [("query", q)], post=True)
            self.assertEqual((s, j["errorType"]), (400, "bad_data"))
            self.assertIn("nesting too deep", j["error"])
        s, j = get(self.v.port, "/api/v1/query", [("query", "1" + "+1" * 500)], post=True)
        self.assertEqual(j["data"]["result"][1], "501")

    def test_parse_query(self):
        # Prometheus 3's endpoint (2.42 has none): translateAST's shape.
        s, j = get(self.v.port, "/api/v1/parse_query", [("query", 'rate(x{a!~"b"}[5m] offset 1m) > bool 2')])
        self.assertEqual(s, 200, j)
        sel = {"matchers": [{"name": "a", "type": "!~", "value": "b"},
                            {"name": "__name__", "type": "=", "value": "x"}],
               "name": "x", "offset": 60000, "range": 300000, "startOrEnd": None,
               "timestamp": None, "type": "matrixSelector"}
        self.assertEqual(j["data"], {
            "bool": True,
            "lhs": {"args": [sel], "func": {"argTypes": ["matrix"], "name": "rate",
                                            "returnType": "vector", "variadic": 0}, "type": "call"},
            "matching": {"card": "one-to-one", "include": [], "labels": [], "on": False},
            "op": ">", "rhs": {"type": "numberLiteral", "val": "2"}, "type": "binaryExpr"})
        s, j = get(self.v.port, "/api/v1/parse_query",
                   [("query", "topk by (job) (3, -up @ end())")], post=True)
        self.assertEqual(j["data"]["type"], "aggregation")
        self.assertEqual(j["data"]["param"], {"type": "numberLiteral", "val": "3"})
        self.assertEqual(j["data"]["expr"]["type"], "unaryExpr")
        self.assertEqual(j["data"]["expr"]["expr"]["startOrEnd"], "end")
        s, j = get(self.v.port, "/api/v1/parse_query", [("query", "sum(")])
        self.assertEqual((s, j["errorType"]), (400, "bad_data"))

    def test_query_exemplars_probe(self):
        s, j = get(self.v.port, "/api/v1/query_exemplars",
                   [("query", "test"), ("start", "1700000000000"), ("end", "1700000100000")], post=True)
        self.assertEqual((s, j), (200, {"status": "success", "data": []}))


class PerStepStatsTest(unittest.TestCase):
    def test_per_step_stats_and_query_log(self):
        v = Vigil(extra_args=["--enable-feature=promql-per-step-stats"])
        log = os.path.join(v.tmp, "query.log")
        with open(v.config_file, "a") as f:
            f.write("global:\n  query_log_file: %s\n" % log)
        v.start()
        try:
            now = int(time.time())
            params = [("query", "count(up) or vector(0)"), ("start", now - 20), ("end", now),
                      ("step", "10"), ("stats", "all")]
            s, j = get(v.port, "/api/v1/query_range", params)
            self.assertEqual(s, 200, j)
            st = j["data"]["stats"]["samples"]
            steps = st["totalQueryableSamplesPerStep"]
            self.assertEqual([t for t, _ in steps], [now - 20, now - 10, now])
            self.assertEqual(sum(n for _, n in steps), st["totalQueryableSamples"])
            s, j = get(v.port, "/api/v1/query", [("query", "sum("), ("time", now)])
            with open(log) as f:
                lines = [json.loads(l) for l in f]
            self.assertEqual(len(lines), 1)  # a parse error is not a query
            entry = lines[0]
            self.assertEqual(list(entry.keys()), ["httpRequest", "params", "stats", "ts"])
            self.assertEqual(entry["httpRequest"], {"clientIP": "127.0.0.1", "method": "GET",
                                                    "path": "/api/v1/query_range"})
            self.assertEqual(entry["params"]["query"], "count(up) or vector(0)")
            self.assertEqual(entry["params"]["step"], 10)
            self.assertRegex(entry["params"]["start"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            s, j = get(v.port, "/api/v1/query", [("query", "1/0 + on() group_left vector(1)"), ("time", now)])
            s, j = get(v.port, "/api/v1/query", [("query", 'label_replace(up, "x", "$1", "", "(")')])
            with open(log) as f:
                last = [json.loads(l) for l in f][-1]
            self.assertIn("error", last)
        finally:
            v.cleanup()


if __name__ == "__main__":
    main()
