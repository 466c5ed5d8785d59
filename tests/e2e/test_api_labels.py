"""Label, series and status endpoints, compared with Prometheus 2.42.

The same OpenMetrics data is loaded into Vigil (`vigil tsdb import`) and
into Prometheus (`promtool tsdb create-blocks-from openmetrics`); both
servers then answer the same label / label values / series requests and the
JSON data must be equal.  Status endpoints are checked for the shapes
Grafana reads.
"""
import json
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
    for job in ("api", "db"):
        for inst in ("a:1", "b:2"):
            series.append(('http_requests_total{job="%s",instance="%s",code="200"}' % (job, inst), 1.5))
            series.append(('up{job="%s",instance="%s"}' % (job, inst), 0))
    series.append(('temperature{room="kitchen",sensor="x y\\"z"}', 20.25))
    out = []
    for name, base in series:
        for k in range(40):
            t = now - (40 - k) * 15
            out.append("%s %s %.3f" % (name, base + k, t))
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

    def test_query_exemplars_probe(self):
        s, j = get(self.v.port, "/api/v1/query_exemplars",
                   [("query", "test"), ("start", "1700000000000"), ("end", "1700000100000")], post=True)
        self.assertEqual((s, j), (200, {"status": "success", "data": []}))


if __name__ == "__main__":
    main()
