"""Admin API: delete_series, clean_tombstones, snapshot — and the answer
without --web.enable-admin-api, compared with Prometheus 2.42's."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from vigil_e2e import VIGIL_BIN, Vigil, free_port, main


def call(port, method, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method, data=b"")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body) if body.startswith(b"{") else body


class AdminApiTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-admin-")
        now = int(time.time())
        om = os.path.join(self.tmp, "d.om")
        with open(om, "w") as f:
            for name in ("keep", "drop"):
                for k in range(20):
                    f.write('%s{i="1"} %d %d\n' % (name, k, now - 600 + k * 15))
            f.write("# EOF\n")
        self.v = Vigil(tmpdir=self.tmp, extra_args=["--web.enable-admin-api"])
        subprocess.run([VIGIL_BIN, "tsdb", "import", "--storage.tsdb.path=" + self.v.data, om],
                       check=True, capture_output=True)
        self.v.start()
        self.now = now

    def tearDown(self):
        self.v.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def count(self, metric):
        s, j = call(self.v.port, "GET", "/api/v1/query?query=count_over_time(%s[1h])&time=%d"
                    % (metric, self.now))
        r = j["data"]["result"]
        return int(r[0]["value"][1]) if r else 0

    def test_delete_series_range_and_snapshot(self):
        self.assertEqual((self.count("drop"), self.count("keep")), (20, 20))
        start, end = self.now - 600 + 5 * 15, self.now - 600 + 9 * 15
        s, _ = call(self.v.port, "POST", "/api/v1/admin/tsdb/delete_series?match[]=drop&start=%d&end=%d"
                    % (start, end))
        self.assertEqual(s, 204)
        self.assertEqual((self.count("drop"), self.count("keep")), (15, 20))
        s, _ = call(self.v.port, "PUT", "/api/v1/admin/tsdb/delete_series?match[]=drop")
        self.assertEqual((s, self.count("drop"), self.count("keep")), (204, 0, 20))
        self.assertEqual(call(self.v.port, "POST", "/api/v1/admin/tsdb/clean_tombstones")[0], 204)
        s, j = call(self.v.port, "POST", "/api/v1/admin/tsdb/snapshot")
        self.assertEqual(s, 200)
        name = j["data"]["name"]
        self.assertRegex(name, r"^\d{8}T\d{6}Z-[0-9a-f]{16}$")
        snap = os.path.join(self.v.data, "snapshots", name)
        p = subprocess.run([VIGIL_BIN, "tsdb", "dump", snap], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        names = {l.split("{")[0] for l in p.stdout.splitlines() if l != "# EOF"}
        self.assertEqual(names, {"keep"})

    def test_errors(self):
        s, j = call(self.v.port, "POST", "/api/v1/admin/tsdb/delete_series")
        self.assertEqual((s, j["error"]), (400, "no match[] parameter provided"))
        s, j = call(self.v.port, "POST", "/api/v1/admin/tsdb/delete_series?match[]=up&start=abc")
        self.assertEqual(j["error"], 'invalid parameter "start": Invalid time value for \'start\': '
                                     'cannot parse "abc" to a valid timestamp')
        self.assertEqual(call(self.v.port, "GET", "/api/v1/admin/tsdb/snapshot")[0], 405)

    def test_bad_selector_answered_before_any_delete(self):
        # Selectors are checked on the loop thread before the work starts.
        s, j = call(self.v.port, "POST", "/api/v1/admin/tsdb/delete_series?match[]=drop&match[]=%7B")
        self.assertEqual((s, j["errorType"]), (400, "bad_data"))
        self.assertEqual(self.count("drop"), 20)

    def test_sigterm_with_storage_work_in_flight(self):
        # Listings, snapshots and deletes run on workers; storage must stay
        # open until the last of them is done, then close cleanly.
        paths = [("GET", "/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D"),
                 ("GET", "/api/v1/labels"), ("GET", "/api/v1/label/__name__/values"),
                 ("POST", "/api/v1/admin/tsdb/snapshot?skip_head=true"),
                 ("POST", "/api/v1/admin/tsdb/delete_series?match[]=nothing_here"),
                 ("GET", "/api/v1/query?query=count_over_time(keep[1h])")]
        stop = threading.Event()
        bad = []

        def load(method, path):
            while not stop.is_set():
                try:
                    s, _ = call(self.v.port, method, path)
                    if s not in (200, 204, 503):
                        bad.append((path, s))
                except OSError:
                    pass
        threads = [threading.Thread(target=load, args=p) for p in paths]
        for t in threads:
            t.start()
        time.sleep(1.0)
        self.v.signal(signal.SIGTERM)
        try:
            code = self.v.wait(5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        log = self.v.read_log()
        self.assertEqual(bad, [])
        self.assertEqual(code, 0, log)
        self.assertIn("See you next time!", log)
        self.assertNotIn("Sanitizer", log)


class AdminDisabledTest(unittest.TestCase):
    def test_disabled_like_prometheus(self):
        v = Vigil().start()
        try:
            got = call(v.port, "POST", "/api/v1/admin/tsdb/snapshot")
        finally:
            v.cleanup()
        self.assertEqual(got, (500, {"status": "error", "errorType": "unavailable",
                                     "error": "admin APIs disabled"}))
        if not shutil.which("prometheus"):
            return
        tmp = tempfile.mkdtemp(prefix="prom-admin-")
        cfg = os.path.join(tmp, "p.yml")
        with open(cfg, "w") as f:
            f.write("global: {}\n")
        port = free_port()
        p = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port,
                              "--storage.tsdb.path=" + os.path.join(tmp, "d")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port)
                    break
                except OSError:
                    time.sleep(0.05)
            self.assertEqual(call(port, "POST", "/api/v1/admin/tsdb/snapshot"), got)
        finally:
            p.terminate()
            p.wait()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
