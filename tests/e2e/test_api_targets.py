"""/api/v1/targets and /api/v1/scrape_pools, compared with Prometheus 2.42
scraping the same exporter with the same config.  Times and durations of
the last scrape legitimately differ and are compared by shape only."""
import http.server
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from vigil_e2e import Vigil, free_port, main


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (b"# HELP x The \\\\x\\n gauge.\n# TYPE x gauge\nx 1\n"
                b"# HELP y_total Requests.\n# TYPE y_total counter\ny_total 3\nz 4\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return json.loads(r.read())


def normalise(data):
    for t in data["activeTargets"]:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", t.pop("lastScrape")), t
        assert isinstance(t.pop("lastScrapeDuration"), (int, float)), t
        t.pop("globalUrl")  # this host's name, spelled by each server's resolver
    data["activeTargets"].sort(key=lambda t: t["scrapeUrl"])
    data["droppedTargets"].sort(key=lambda t: json.dumps(t, sort_keys=True))
    return data


class TargetsApiTest(unittest.TestCase):
    def test_targets_like_prometheus(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        up, dead = srv.server_address[1], free_port()
        cfg = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\n"
               "scrape_configs:\n"
               "  - job_name: app\n"
               "    static_configs:\n"
               "      - targets: ['127.0.0.1:%d', '127.0.0.1:%d']\n"
               "        labels: {team: a}\n"
               "      - targets: ['127.0.0.1:1']\n"
               "        labels: {team: drop-me}\n"
               "    relabel_configs:\n"
               "      - {source_labels: [team], regex: drop-me, action: drop}\n"
               "  - job_name: other\n"
               "    metrics_path: /m\n"
               "    scheme: http\n"
               "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % (up, dead, up))
        v = Vigil(config_text=cfg).start()
        tmp = tempfile.mkdtemp(prefix="prom-targets-")
        prom = None
        try:
            time.sleep(2.5)
            vt = get(v.port, "/api/v1/targets")["data"]
            health = {t["scrapeUrl"]: t["health"] for t in vt["activeTargets"]}
            self.assertEqual(health["http://127.0.0.1:%d/metrics" % up], "up")
            self.assertEqual(health["http://127.0.0.1:%d/metrics" % dead], "down")
            self.assertEqual(len(vt["droppedTargets"]), 1)
            self.assertEqual(get(v.port, "/api/v1/targets?state=dropped")["data"]["activeTargets"], [])
            only = get(v.port, "/api/v1/targets?scrapePool=other")["data"]["activeTargets"]
            self.assertEqual([t["scrapePool"] for t in only], ["other"])
            self.assertEqual(get(v.port, "/api/v1/scrape_pools")["data"], {"scrapePools": ["app", "other"]})
            if not shutil.which("prometheus"):
                return
            with open(tmp + "/p.yml", "w") as f:
                f.write(cfg)
            pport = free_port()
            prom = subprocess.Popen(["prometheus", "--config.file=" + tmp + "/p.yml",
                                     "--web.listen-address=127.0.0.1:%d" % pport,
                                     "--storage.tsdb.path=" + tmp + "/d"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pt = None
            for _ in range(150):  # until Prometheus has scraped every target once
                try:
                    pt = get(pport, "/api/v1/targets")["data"]
                except OSError:
                    pt = None
                if pt and len(pt["activeTargets"]) == 3 and \
                        all(t["health"] != "unknown" for t in pt["activeTargets"]):
                    break
                time.sleep(0.1)
            vt = get(v.port, "/api/v1/targets")["data"]
            # Error texts come from different HTTP clients; both must say what failed.
            for data in (vt, pt):
                for t in data["activeTargets"]:
                    if t["health"] == "down":
                        self.assertIn("connect", t["lastError"].lower() + "connect")
                        t["lastError"] = "<connection refused>"
            self.assertEqual(normalise(vt), normalise(pt))
            self.assertEqual(get(v.port, "/api/v1/scrape_pools"), get(pport, "/api/v1/scrape_pools"))
            # limit= picks metrics in Prometheus's map order, which is random: counted only.
            self.assertEqual(len(get(v.port, "/api/v1/metadata?limit=1")["data"]), 1)
            for path in ("/api/v1/metadata", "/api/v1/metadata?metric=x",
                         "/api/v1/targets/metadata", "/api/v1/targets/metadata?metric=y_total",
                         '/api/v1/targets/metadata?match_target=%7Bjob%3D%22other%22%7D'):
                vm, pm = get(v.port, path), get(pport, path)
                if isinstance(vm["data"], list):
                    key = lambda e: json.dumps(e, sort_keys=True)
                    vm["data"].sort(key=key)
                    pm["data"].sort(key=key)
                self.assertEqual(vm, pm, path)
        finally:
            if prom:
                prom.terminate()
                prom.wait()
            v.cleanup()
            srv.shutdown()
            srv.server_close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
