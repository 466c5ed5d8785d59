"""Vigil and Prometheus 2.42 scrape the same targets with the same config —
a real prometheus-node-exporter and a small exporter behind relabel rules —
and must store the same set of series (label sets), synthetic series
included.  Values differ (they are scraped at different instants); the set
of series must not."""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

from vigil_e2e import Vigil, free_port, main


class App(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("# TYPE app_requests_total counter\n"
                'app_requests_total{code="200",path="/a"} 5\n'
                'app_requests_total{code="500",path="/a"} 1\n'
                'app_debug_info{version="1.2"} 1\n'
                'go_gc_duration_seconds{quantile="0.5"} 0.001\n').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def canonical(labels):
    """Prometheus 3 (and Vigil) store le and quantile values in canonical
    float form ("1" -> "1.0"); 2.42 stores them as scraped."""
    return {k: (repr(float(v)) if k in ("le", "quantile") else v) for k, v in labels.items()}


def series(port):
    q = urllib.parse.urlencode([("match[]", '{__name__=~".+"}')])
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/series?%s" % (port, q), timeout=10) as r:
        return {json.dumps(canonical(s), sort_keys=True) for s in json.loads(r.read())["data"]}


def wait_ready(port, timeout=20):
    for _ in range(int(timeout * 20)):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("not ready on %d" % port)


@unittest.skipUnless(shutil.which("prometheus") and shutil.which("prometheus-node-exporter"),
                     "prometheus and prometheus-node-exporter needed")
class ScrapeDifferentialTest(unittest.TestCase):
    def test_same_series_as_prometheus(self):
        tmp = tempfile.mkdtemp(prefix="vigil-diff-")
        procs = []
        app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
        threading.Thread(target=app.serve_forever, daemon=True).start()
        try:
            ne = free_port()
            procs.append(subprocess.Popen(
                ["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % ne,
                 # Collectors whose series come and go between scrapes would
                 # make the two sets differ for reasons that are not ours.
                 "--no-collector.hwmon", "--no-collector.thermal_zone", "--no-collector.netstat",
                 "--no-collector.ipvs", "--no-collector.arp"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            cfg = ("global:\n  scrape_interval: 2s\n  scrape_timeout: 1s\n"
                   "scrape_configs:\n"
                   "  - job_name: node\n"
                   "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {name: node-01}}]\n"
                   "    relabel_configs:\n"
                   "      - {source_labels: [name], target_label: instance}\n"
                   "      - {action: labeldrop, regex: name}\n"
                   "    metric_relabel_configs:\n"
                   "      - {source_labels: [__name__], regex: 'node_scrape_collector_.*', action: drop}\n"
                   "  - job_name: app\n"
                   "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {env: prod, team: x}}]\n"
                   "    relabel_configs:\n"
                   "      - {source_labels: [env], regex: 'prod|staging', action: keep}\n"
                   "      - {source_labels: [__address__], regex: '(.*):(\\d+)', target_label: host, replacement: '$1'}\n"
                   "    metric_relabel_configs:\n"
                   "      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n"
                   "      - {source_labels: [code], regex: '5..', target_label: class, replacement: error}\n"
                   "      - {action: labelmap, regex: 'path', replacement: 'http_path'}\n"
                   % (ne, app.server_address[1]))
            v = Vigil(config_text=cfg, tmpdir=tmp).start()
            pport = free_port()
            with open(os.path.join(tmp, "p.yml"), "w") as f:
                f.write(cfg)
            procs.append(subprocess.Popen(
                ["prometheus", "--config.file=" + os.path.join(tmp, "p.yml"),
                 "--web.listen-address=127.0.0.1:%d" % pport,
                 "--storage.tsdb.path=" + os.path.join(tmp, "pdata")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_ready(pport)
            time.sleep(7)
            vs, ps = series(v.port), series(pport)
            self.assertGreater(len(ps), 200)
            self.assertEqual(sorted(vs - ps)[:10], [], "only in Vigil")
            self.assertEqual(sorted(ps - vs)[:10], [], "only in Prometheus")
            self.assertIn(json.dumps({"__name__": "app_requests_total", "class": "error", "code": "500",
                                      "env": "prod", "host": "127.0.0.1", "http_path": "/a",
                                      "instance": "127.0.0.1:%d" % app.server_address[1], "job": "app",
                                      "path": "/a", "team": "x"}, sort_keys=True), vs)
            for synthetic in ("up", "scrape_duration_seconds", "scrape_samples_scraped",
                              "scrape_samples_post_metric_relabeling", "scrape_series_added"):
                self.assertTrue(any('"__name__": "%s"' % synthetic in x for x in vs), synthetic)
            v.cleanup()
        finally:
            for p in procs:
                p.terminate()
                p.wait()
            app.shutdown()
            app.server_close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
