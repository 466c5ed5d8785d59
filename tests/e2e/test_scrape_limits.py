"""target_limit: a scrape pool with more targets than its limit keeps its
targets but fails every scrape (up 0, Prometheus's error text), and scrapes
again once a reload raises the limit; compared with Prometheus 2.42."""
import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.request

from vigil_e2e import Vigil, free_port, main

CONFIG = """global:
  scrape_interval: 1s
scrape_configs:
  - job_name: limited
    target_limit: %d
    static_configs:
      - targets: ['127.0.0.1:%d', '127.0.0.1:%d', '127.0.0.1:%d']
"""


def targets(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % port, timeout=5) as r:
        return json.loads(r.read())["data"]["activeTargets"]


class TargetLimit(unittest.TestCase):
    def test_target_limit(self):
        p1, p2 = free_port(), free_port()
        v = Vigil("", extra_args=["--web.enable-lifecycle"])
        with open(v.config_file, "w") as f:
            f.write(CONFIG % (2, v.port, p1, p2))
        v.start()
        prom = None
        try:
            if shutil.which("prometheus"):
                pport = free_port()
                cfg = os.path.join(v.tmp, "p.yml")
                with open(cfg, "w") as f:
                    f.write(CONFIG % (2, pport, p1, p2))
                prom = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                                         "--web.listen-address=127.0.0.1:%d" % pport,
                                         "--storage.tsdb.path=" + os.path.join(v.tmp, "prom")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(3.5)
            ts = targets(v.port)
            self.assertEqual(len(ts), 3)
            for t in ts:
                self.assertEqual(t["health"], "down", t)
                self.assertEqual(t["lastError"], "target_limit exceeded (number of targets: 3, limit: 2)")
            if prom:
                for t in targets(pport):
                    self.assertEqual(t["lastError"], "target_limit exceeded (number of targets: 3, limit: 2)")
            # Raising the limit lets the pool scrape again: Vigil's own target is up.
            with open(v.config_file, "w") as f:
                f.write(CONFIG % (5, v.port, p1, p2))
            s, _, _ = v.request("POST", "/-/reload")
            self.assertEqual(s, 200)
            time.sleep(2.5)
            own = [t for t in targets(v.port) if t["labels"]["instance"] == "127.0.0.1:%d" % v.port]
            self.assertEqual(own[0]["health"], "up", own)
            self.assertEqual(v.stop(), 0, v.read_log())
        finally:
            if prom:
                prom.terminate()
                prom.wait(10)
            v.cleanup()


if __name__ == "__main__":
    main()
