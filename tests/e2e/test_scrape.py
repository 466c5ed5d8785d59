"""Scraping end to end: the real binary scrapes a tiny HTTP exporter.

A Python exporter in this process serves /metrics (gzip when asked, as Go
exporters do).  Vigil scrapes it every second with the job's target labels,
metric_relabel_configs and exported_ renaming, and scrapes a dead port too.
After a few scrapes Vigil reloads a config without one job (its target's series go stale),
then is stopped and `vigil tsdb dump` must show what
Prometheus would have stored: the samples with the target's labels, up=1 /
up=0, the report series, no relabel-dropped series, and a staleness marker
for the series the exporter stopped exposing.  The request headers Vigil
sent (Accept negotiation, Accept-Encoding, the scrape timeout) are checked
too.
"""
import gzip
import http.server
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from vigil_e2e import Vigil, free_port, run_vigil, main


class Exporter(http.server.BaseHTTPRequestHandler):
    requests = []
    lock = threading.Lock()

    def do_GET(self):
        with Exporter.lock:
            n = sum(1 for p, _ in Exporter.requests if p == self.path)
            Exporter.requests.append((self.path, dict((k.lower(), v) for k, v in self.headers.items())))
        if self.path.startswith("/slow"):
            time.sleep(1.5)
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
        if not self.path.startswith(("/metrics", "/slow")):
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
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the scraper gave up (timeout, body size limit)

    def log_message(self, *args):
        pass


class ScrapeTest(unittest.TestCase):
    def test_scrape_to_storage(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.server_address[1]
        dead = free_port()
        tmp = tempfile.mkdtemp(prefix="vigil-sd-")
        sd_file = os.path.join(tmp, "t.json")
        with open(sd_file, "w") as f:
            json.dump([{"targets": ["127.0.0.1:%d" % port], "labels": {"sd": "yes"}}], f)
        cfg = (
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: app\n"
            "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {team: t}}]\n"
            "    metric_relabel_configs:\n"
            "      - {source_labels: [__name__], regex: 'python_gc_.*', action: drop}\n"
            "  - job_name: down\n"
            "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
            "  - job_name: slow\n"
            "    scrape_timeout: 500ms\n"
            "    metrics_path: /slow\n"
            "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
            "  - job_name: big\n"
            "    body_size_limit: 10B\n"
            "    enable_compression: false\n"
            "    params: {src: [big]}\n"
            "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
            "  - job_name: file\n"
            "    params: {src: [file]}\n"
            "    file_sd_configs: [{files: ['%s'], refresh_interval: 1s}]\n"
            % (port, dead, port, port, sd_file))
        gone_job = ("  - job_name: gone\n"
                    "    params: {src: [gone]}\n"
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % port)
        cfg, reloaded_cfg = cfg + gone_job, cfg
        v = Vigil(config_text=cfg).start()
        try:
            def count(path):
                with Exporter.lock:
                    return sum(1 for p, _ in Exporter.requests if p == path)

            deadline = time.time() + 30
            while time.time() < deadline and count("/metrics?src=file") < 2:
                time.sleep(0.1)
            # A reload without the job "gone": its target's series go stale.
            while time.time() < deadline and count("/metrics?src=gone") < 2:
                time.sleep(0.1)
            with open(v.config_file, "w") as f:
                f.write(reloaded_cfg)
            v.signal(signal.SIGHUP)
            # The file now lists nothing: the target goes, its series go stale.
            with open(sd_file + ".new", "w") as f:
                f.write("[]")
            os.rename(sd_file + ".new", sd_file)
            while time.time() < deadline and (count("/metrics") < 4 or count("/slow") < 2):
                time.sleep(0.1)
            self.assertGreaterEqual(count("/metrics"), 4, v.read_log())
            time.sleep(1.5)  # a file_sd refresh, and the last scrape commits
        finally:
            self.assertEqual(v.stop(), 0, v.read_log())
        log = v.read_log()
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
        self.assertFalse(values("python_gc_objects_collected_total" + app), out)
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

        # Timeout, body size limit: up 0.
        for job in ("slow", "big"):
            ups = [x for l in out.splitlines() if l.startswith("up{") and 'job="%s"' % job in l
                   for x in [l.rsplit(" ", 2)[1]]]
            self.assertTrue(ups and all(u == "0" for u in ups), (job, out))
        # The file_sd target: scraped with its group labels, then gone: stale.
        fup = values('up{%s,job="file",sd="yes"}' % inst)
        self.assertGreaterEqual(len(fup), 2, out)
        self.assertEqual(fup[-1], "NaN", out)
        self.assertTrue(all(x == "1" for x in fup[:-1]), fup)
        self.assertEqual(values('requests_total{code="200",%s,job="file",sd="yes"}' % inst)[-1],
                         "NaN")
        shutil.rmtree(tmp)
        gup = values('up{%s,job="gone"}' % inst)
        self.assertGreaterEqual(len(gup), 2, out)
        self.assertEqual(gup[-1], "NaN", out)
        self.assertEqual(values('requests_total{code="200",%s,job="gone"}' % inst)[-1], "NaN")
        self.assertIn("Completed loading of configuration file", log)

        h = next(h for p, h in Exporter.requests if p == "/metrics")
        big = next(h for p, h in Exporter.requests if p == "/metrics?src=big")
        self.assertEqual(big.get("accept-encoding"), "identity")
        self.assertIn("gzip", h.get("accept-encoding", ""))
        self.assertIn("text/plain;version=0.0.4", h.get("accept", ""))
        self.assertTrue(h.get("accept", "").startswith("application/openmetrics-text"), h)
        self.assertEqual(h.get("x-prometheus-scrape-timeout-seconds"), "1")
        self.assertTrue(h.get("user-agent", "").startswith("Vigil/"), h)


if __name__ == "__main__":
    main()
