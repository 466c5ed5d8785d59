"""A short smoke run of the benchmarks, so they cannot rot unnoticed.

Benchmarks are not timed tests: this only checks that each runs end to end
against Vigil and the reference servers and prints its table.
"""
import os
import shutil
import subprocess
import unittest

from vigil_e2e import SANITIZED, VIGIL_BIN, VIGIL_SRC, main


class BenchSmokeTest(unittest.TestCase):
    def test_http_bench(self):
        if SANITIZED:
            self.skipTest("benchmarks run on the release build only")
        for tool in ("wrk", "prometheus"):
            if not shutil.which(tool):
                self.skipTest(tool + " not installed")
        env = dict(os.environ, VIGIL_BIN=VIGIL_BIN, CONNS="10")
        p = subprocess.run(["bash", os.path.join(VIGIL_SRC, "bench", "http.sh"), "1"],
                           capture_output=True, env=env, timeout=120)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        rows = [l for l in out.splitlines() if l.startswith("/")]
        self.assertEqual([r.split()[0] for r in rows], ["/-/healthy", "/metrics"], out)
        for r in rows:
            self.assertGreater(int(r.split()[1]), 0, r)
        self.assertIn("resident memory after load", out)

    def test_api_load_bench(self):
        if SANITIZED:
            self.skipTest("benchmarks run on the release build only")
        for tool in ("wrk", "prometheus", "promtool"):
            if not shutil.which(tool):
                self.skipTest(tool + " not installed")
        env = dict(os.environ, VIGIL_BIN=VIGIL_BIN, TARGETS="3", SERIES="100", INTERVAL="1",
                   HISTORY="600")
        p = subprocess.run(["bash", os.path.join(VIGIL_SRC, "bench", "api_load.sh"), "3", "5"],
                           capture_output=True, env=env, timeout=300)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        rows = [l.split() for l in out.splitlines() if l.split() and l.split()[0] in
                ("vigil", "prometheus")]
        self.assertEqual([r[0] for r in rows], ["vigil", "prometheus"], out)
        for r in rows:
            self.assertGreater(int(r[1]), 0, r)  # requests answered
            self.assertGreater(int(r[6]), 0, r)  # scrapes stored in the window
        vigil = rows[0]
        self.assertEqual((vigil[3], vigil[7]), ("0", "0"), out)  # no errors, no skipped scrapes
        self.assertIn("ratios: latency (prometheus/vigil)", out)

    def test_ingest_bench(self):
        if SANITIZED:
            self.skipTest("benchmarks run on the release build only")
        exe = os.path.join(os.path.dirname(VIGIL_BIN), "bench_ingest")
        p = subprocess.run([exe, "5000", "4", "500"], capture_output=True, timeout=120)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertRegex(out, r"append \(steady\) +[0-9.]+ us CPU/sample")
        self.assertRegex(out, r"resident memory +[0-9]+ bytes per active series")
        self.assertIn("(40 samples of one metric)", out)

    def test_scrape_bench(self):
        if SANITIZED:
            self.skipTest("benchmarks run on the release build only")
        for tool in ("prometheus", "victoria-metrics"):
            if not shutil.which(tool):
                self.skipTest(tool + " not installed")
        env = dict(os.environ, VIGIL_BIN=VIGIL_BIN)
        p = subprocess.run(["bash", os.path.join(VIGIL_SRC, "bench", "scrape.sh"), "4", "3", "100", "1"],
                           capture_output=True, env=env, timeout=300)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        rows = [l.split() for l in out.splitlines() if l.split() and l.split()[0] in
                ("vigil", "prometheus", "victoriametrics")]
        names = ["vigil", "prometheus", "victoriametrics"]
        self.assertEqual([r[0] for r in rows], names + names, out)  # cost, then selector latency
        for r in rows[:3]:
            self.assertGreater(float(r[2]), 0, r)  # each server was alive and measured
            self.assertGreaterEqual(int(r[4]), 3 * 105, r)  # and held every series
        for r in rows[3:]:
            self.assertGreater(float(r[1]), 0, r)  # count() timed
            self.assertEqual(r[6], "3", r)  # /api/v1/series listed the metric of each target
        self.assertIn("ratios (other/vigil): cpu", out)
        self.assertIn("ratios (other/vigil): count()", out)
        self.assertRegex(out, r"vigil: \d+ scrapes stored in the window, \d+ expected")

    def test_rules_bench(self):
        if SANITIZED:
            self.skipTest("benchmarks run on the release build only")
        if not shutil.which("prometheus"):
            self.skipTest("prometheus not installed")
        if not os.path.isdir(os.path.join(VIGIL_SRC, "..", "shared", "fixtures", "seedstack")):
            self.skipTest("shared fixtures not present")
        env = dict(os.environ, VIGIL_BIN=VIGIL_BIN)
        p = subprocess.run(["bash", os.path.join(VIGIL_SRC, "bench", "rules.sh"), "3", "1000", "1"],
                           capture_output=True, env=env, timeout=300)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        rows = [l.split() for l in out.splitlines() if l.split() and l.split()[0] in
                ("vigil", "prometheus")]
        self.assertEqual([r[0] for r in rows], ["vigil", "prometheus"], out)
        for r in rows:
            self.assertGreater(float(r[1]), 0, r)  # rules ran on both
        self.assertIn("ratio (prometheus/vigil)", out)

    def test_storage_bench(self):
        if SANITIZED:
            self.skipTest("benchmarks run on the release build only")
        for tool in ("promtool", "prometheus", "prometheus-node-exporter", "victoria-metrics"):
            if not shutil.which(tool):
                self.skipTest(tool + " not installed")
        env = dict(os.environ, VIGIL_BIN=VIGIL_BIN)
        p = subprocess.run(["bash", os.path.join(VIGIL_SRC, "bench", "storage.sh"), "20"],
                           capture_output=True, env=env, timeout=300)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        for store in ("prometheus 2.42", "victoriametrics", "vigil"):
            self.assertIn(store, out)
        self.assertRegex(out, r"ratios: prometheus/vigil [0-9.]+x, victoriametrics/vigil [0-9.]+x")


if __name__ == "__main__":
    main()
