"""Scraping end to end: the real binary scrapes a tiny HTTP exporter.

A Python exporter in this process serves /metrics (gzip when asked, as Go
exporters do).  Vigil scrapes it every second with the job's target labels,
metric_relabel_configs and exported_ renaming, and scrapes a dead port too.
After a few scrapes Vigil is stopped and `vigil tsdb dump` must show what
Prometheus would have stored: the samples with the target's labels, up=1 /
up=0, the report series, no relabel-dropped series, and a staleness marker
for the series the exporter stopped exposing.  The request headers Vigil
sent (Accept negotiation, Accept-Encoding, the scrape timeout) are checked
too.
"""
import gzip
import http.server
import os
import re
import threading
import time
import unittest

from vigil_e2e import Vigil, free_port, run_vigil, main


class Exporter(http.server.BaseHTTPRequestHandler):
    requests = []
    lock = threading.Lock()

    def do_GET(self):
        with Exporter.lock:
            n = len(Exporter.requests)
            Exporter.requests.append(dict((k.lower(), v) for k, v in self.headers.items()))
        lines = [
            "# HELP requests_total Requests.",
            "# TYPE requests_total counter",
            'requests_total{code="200"} %d' % (n + 1),
            'inner{job="inner"} 1',
            "python_gc_objects_collected_total 5",
        ]
        if n < 2:
            lines.append("flaky 1")
        body = ("\n".join(lines) + "\n").encode()
        if self.path != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ScrapeTest(unittest.TestCase):
    def test_scrape_to_storage(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.server_address[1]
        dead = free_port()
        cfg = (
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: app\n"
            "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {team: t}}]\n"
            "    metric_relabel_configs:\n"
            "      - {source_labels: [__name__], regex: 'python_gc_.*', action: drop}\n"
            "  - job_name: down\n"
            "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % (port, dead))
        v = Vigil(config_text=cfg).start()
        try:
            deadline = time.time() + 30
            while time.time() < deadline and len(Exporter.requests) < 4:
                time.sleep(0.1)
            self.assertGreaterEqual(len(Exporter.requests), 4, v.read_log())
            time.sleep(0.3)  # let the last scrape commit
        finally:
            self.assertEqual(v.stop(), 0, v.read_log())
        code, out, err = run_vigil("tsdb", "dump", v.data)
        v.cleanup()
        srv.shutdown()
        self.assertEqual(code, 0, err)

        inst = 'instance="127.0.0.1:%d"' % port
        app = '{%s,job="app",team="t"}' % inst

        def values(series):
            return [l.rsplit(" ", 2)[1] for l in out.splitlines() if l.startswith(series + " ")]

        ups = values("up" + app)
        self.assertGreaterEqual(len(ups), 3, out)
        self.assertTrue(all(u == "1" for u in ups), ups)
        req = values('requests_total{code="200",%s,job="app",team="t"}' % inst)
        self.assertGreaterEqual(len(req), 3, out)
        self.assertEqual([float(x) for x in req], sorted(float(x) for x in req))
        # The page's job label is kept as exported_job; the target's wins.
        self.assertTrue(values('inner{exported_job="inner",%s,job="app",team="t"}' % inst), out)
        self.assertNotIn("python_gc_objects_collected_total", out)
        post = values("scrape_samples_post_metric_relabeling" + app)
        self.assertEqual(post[:2], ["3", "3"])  # requests_total, inner, flaky
        self.assertTrue(all(x == "2" for x in post[2:]), post)
        self.assertEqual(values("scrape_samples_scraped" + app)[:3], ["4", "4", "3"])
        self.assertEqual(values("scrape_series_added" + app)[:2], ["3", "0"])
        self.assertTrue(values("scrape_duration_seconds" + app))
        # flaky was exposed twice, then marked stale once.
        self.assertEqual(values("flaky" + app), ["1", "1", "NaN"], out)
        # The dead target: up 0, nothing else.
        downs = values('up{instance="127.0.0.1:%d",job="down"}' % dead)
        self.assertTrue(downs and all(d == "0" for d in downs), out)

        h = Exporter.requests[0]
        self.assertIn("gzip", h.get("accept-encoding", ""))
        self.assertIn("text/plain;version=0.0.4", h.get("accept", ""))
        self.assertTrue(h.get("accept", "").startswith("application/openmetrics-text"), h)
        self.assertEqual(h.get("x-prometheus-scrape-timeout-seconds"), "1")
        self.assertTrue(h.get("user-agent", "").startswith("Vigil/"), h)


if __name__ == "__main__":
    main()
