"""storage.tsdb.out_of_order_time_window end to end, beside Prometheus 2.42.

A small exporter serves one series with an explicit timestamp that the test
moves: first a newer sample, then an older one inside the window (accepted
out of order), then one far outside it (too old).  Vigil and, where it is
installed, Prometheus scrape the same exporter with the same config; both
must hold the same samples and count the same kinds of rejection.  Vigil
must also keep the late sample across kill -9, and stop accepting late
samples once a reload sets the window to 0.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

from vigil_e2e import Vigil, free_port, main

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 900ms
storage:
  tsdb:
    out_of_order_time_window: %s
scrape_configs:
  - job_name: late
    static_configs:
      - targets: ['127.0.0.1:%d']
"""


class Exporter:
    """Serves `late_metric <value> <timestamp ms>` as currently set."""

    def __init__(self):
        self.line = ""
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = ("# TYPE late_metric gauge\n" + exporter.line + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, value, t_ms):
        self.line = "late_metric %s %d" % (value, t_ms)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def get_json(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return json.loads(r.read())


def samples(port, at_s):
    q = urllib.parse.urlencode({"query": "late_metric[1h]", "time": "%.3f" % at_s})
    res = get_json(port, "/api/v1/query?" + q)["data"]["result"]
    return [(int(round(float(t) * 1000)), v) for t, v in res[0]["values"]] if res else []


def metric_sum(port, name):
    """Sum of the samples of a metric family on /metrics (any labels)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def scrapes(port):
    """How many scrapes the server has made of the exporter (its `up` samples)."""
    q = urllib.parse.urlencode({"query": 'count_over_time(up{job="late"}[1h])'})
    res = get_json(port, "/api/v1/query?" + q)["data"]["result"]
    return float(res[0]["value"][1]) if res else 0


class OutOfOrderTest(unittest.TestCase):
    def setUp(self):
        self.exporter = Exporter()
        self.tmp = tempfile.mkdtemp(prefix="vigil-ooo-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.exporter.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_prometheus(self, config):
        port = free_port()
        path = os.path.join(self.tmp, "p.yml")
        with open(path, "w") as f:
            f.write(config)
        log = open(os.path.join(self.tmp, "prometheus.log"), "ab")
        self.addCleanup(log.close)
        self.procs.append(subprocess.Popen(
            ["prometheus", "--config.file=" + path, "--web.listen-address=127.0.0.1:%d" % port,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "pdata")],
            stdout=log, stderr=subprocess.STDOUT))
        self.assertTrue(wait_until(lambda: self.ready(port)), "prometheus did not start")
        return port

    @staticmethod
    def ready(port):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def step(self, ports, value, t_ms):
        """Serves (value, t_ms) until every server scraped it twice more."""
        self.exporter.serve(value, t_ms)
        marks = {p: scrapes(p) for p in ports}
        for p in ports:
            self.assertTrue(wait_until(lambda: scrapes(p) >= marks[p] + 2), "no scrapes on %d" % p)

    def test_window_accepts_late_samples_like_prometheus(self):
        config = CONFIG % ("10m", self.exporter.port)
        os.mkdir(os.path.join(self.tmp, "v"))
        vigil = Vigil(config_text=config, tmpdir=os.path.join(self.tmp, "v"))
        self.addCleanup(vigil.cleanup)
        vigil.start()
        ports = [vigil.port]
        if shutil.which("prometheus"):
            ports.append(self.start_prometheus(config))
        now = int(time.time()) * 1000
        newer, late, too_old = now - 4 * 60000, now - 5 * 60000, now - 25 * 60000
        self.step(ports, 2, newer)
        self.step(ports, 1, late)      # inside the window: accepted out of order
        self.step(ports, 0, too_old)   # outside it: too old
        want = [(late, "1"), (newer, "2")]
        at = time.time()
        for p in ports:
            self.assertEqual(samples(p, at), want, "server on port %d" % p)
            self.assertEqual(metric_sum(p, "prometheus_tsdb_head_out_of_order_samples_appended_total"), 1)
            self.assertGreaterEqual(metric_sum(p, "prometheus_tsdb_too_old_samples_total"), 1)
            self.assertEqual(metric_sum(p, "prometheus_tsdb_out_of_order_samples_total"), 0)

        # kill -9: the late sample comes back from the WAL.
        vigil.proc.send_signal(signal.SIGKILL)
        vigil.proc.wait()
        vigil.log.close()
        vigil.start()
        self.assertEqual(samples(vigil.port, at), want)

        # A reload that turns the window off: late samples are out of order again.
        with open(vigil.config_file, "w") as f:
            f.write(CONFIG % ("0s", self.exporter.port))
        vigil.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "Completed loading of configuration file" in vigil.read_log()))
        self.step([vigil.port], 3, now - 4 * 60000 - 30000)
        self.assertEqual(samples(vigil.port, time.time()), want)
        self.assertGreaterEqual(metric_sum(vigil.port, "prometheus_tsdb_out_of_order_samples_total"), 1)


if __name__ == "__main__":
    main()
