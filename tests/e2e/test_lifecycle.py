"""Lifecycle, self-monitoring and command line of the real binary.

Covers issue 3's "Must show": /-/healthy, /-/ready and /metrics answered,
`promtool check metrics` finds no problem in /metrics, reload over HTTP and
SIGHUP (a broken config keeps the running one and says why), /-/quit,
SIGTERM under load exits 0 within 5 s, flag errors exit 2.
"""
import shutil
import signal
import subprocess
import threading
import time
import unittest

from vigil_e2e import Vigil, run_vigil, main

GOOD = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['127.0.0.1:1']\n"
BROKEN = "global:\n  scrape_interval: 15x\n"


class ServingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vigil(extra_args=["--web.enable-lifecycle"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def test_healthy_and_ready(self):
        status, hdrs, body = self.v.get("/-/healthy")
        self.assertEqual((status, body), (200, b"Prometheus Server is Healthy.\n"))
        status, _, body = self.v.get("/-/ready")
        self.assertEqual((status, body), (200, b"Prometheus Server is Ready.\n"))

    def test_metrics_exposition(self):
        self.v.get("/-/healthy")
        status, hdrs, body = self.v.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_max_fds", "process_start_time_seconds",
                     "process_virtual_memory_bytes", "prometheus_build_info",
                     "prometheus_config_last_reload_successful",
                     "prometheus_config_last_reload_success_timestamp_seconds",
                     "prometheus_http_requests_total", "prometheus_http_request_duration_seconds_bucket"):
            self.assertIn("\n" + name, "\n" + text, name)
        self.assertIn('prometheus_http_requests_total{code="200",handler="/-/healthy"}', text)
        self.assertEqual(self.v.metric("prometheus_config_last_reload_successful"), 1)
        self.assertGreater(self.v.metric("process_resident_memory_bytes"), 1e5)

    def test_promtool_check_metrics(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool not installed")
        _, _, body = self.v.get("/metrics")
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertEqual(p.stdout.strip(), b"", p.stdout.decode())

    def test_http_request_counter_counts(self):
        def count():
            _, _, body = self.v.get("/metrics")
            for line in body.decode().splitlines():
                if line.startswith('prometheus_http_requests_total{code="200",handler="/-/ready"}'):
                    return float(line.split()[1])
            return 0.0
        before = count()
        for _ in range(5):
            self.v.get("/-/ready")
        self.assertEqual(count() - before, 5)

    def test_unknown_path_404(self):
        status, _, body = self.v.get("/no/such/path")
        self.assertEqual(status, 404)

    def test_reload_get_not_allowed(self):
        status, _, _ = self.v.get("/-/reload")
        self.assertEqual(status, 405)


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.v = Vigil(config_text=GOOD, extra_args=["--web.enable-lifecycle"]).start()

    def tearDown(self):
        self.v.cleanup()

    def write_config(self, text):
        with open(self.v.config_file, "w") as f:
            f.write(text)

    def test_http_reload_good_and_broken(self):
        status, _, _ = self.v.request("POST", "/-/reload")
        self.assertEqual(status, 200)
        self.assertEqual(self.v.metric("prometheus_config_last_reload_successful"), 1)
        self.write_config(BROKEN)
        status, _, body = self.v.request("POST", "/-/reload")
        self.assertEqual(status, 500)
        self.assertIn(b"failed to reload config", body)
        self.assertIn(b'prometheus.yml:2:20: global.scrape_interval: "15x" is not a valid duration', body)
        self.assertEqual(self.v.metric("prometheus_config_last_reload_successful"), 0)
        self.assertEqual(self.v.get("/-/ready")[0], 200)
        self.write_config(GOOD)
        self.assertEqual(self.v.request("POST", "/-/reload")[0], 200)
        self.assertEqual(self.v.metric("prometheus_config_last_reload_successful"), 1)

    def test_sighup_broken_config_keeps_serving(self):
        self.write_config(BROKEN)
        self.v.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and self.v.metric("prometheus_config_last_reload_successful") != 0:
            time.sleep(0.05)
        self.assertEqual(self.v.metric("prometheus_config_last_reload_successful"), 0)
        self.assertIn("is not a valid duration", self.v.read_log())
        self.assertEqual(self.v.get("/-/healthy")[0], 200)
        self.write_config(GOOD)
        self.v.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and self.v.metric("prometheus_config_last_reload_successful") != 1:
            time.sleep(0.05)
        self.assertEqual(self.v.metric("prometheus_config_last_reload_successful"), 1)

    def test_quit(self):
        status, _, body = self.v.request("POST", "/-/quit")
        self.assertEqual(status, 200)
        self.assertEqual(self.v.wait(5), 0)


class LifecycleDisabledTest(unittest.TestCase):
    def test_lifecycle_endpoints_forbidden(self):
        v = Vigil().start()
        try:
            for path in ("/-/reload", "/-/quit"):
                status, _, body = v.request("POST", path)
                self.assertEqual((status, body.strip()), (403, b"Lifecycle API is not enabled."))
            self.assertEqual(v.get("/-/healthy")[0], 200)
        finally:
            v.cleanup()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_under_load_exits_zero_within_5s(self):
        v = Vigil().start()
        stop = threading.Event()
        errors = []

        def load():
            while not stop.is_set():
                try:
                    v.get("/metrics", timeout=5)
                except OSError:
                    pass
                except Exception as e:  # noqa: BLE001 - any other failure is a finding
                    errors.append(e)

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        t0 = time.time()
        v.signal(signal.SIGTERM)
        try:
            code = v.wait(5)
        finally:
            stop.set()
            for t in threads:
                t.join()
            elapsed = time.time() - t0
            log = v.read_log()
            v.cleanup()
        self.assertEqual(errors, [])
        self.assertEqual(code, 0, log)
        self.assertLess(elapsed, 5)
        self.assertIn("See you next time!", log)

    def test_data_dir_locked(self):
        a = Vigil().start()
        try:
            b = Vigil(tmpdir=None)
            b.args = [x if not x.startswith("--storage.tsdb.path=") else "--storage.tsdb.path=" + a.data
                      for x in b.args]
            b.log = open(b.log_path, "ab")
            b.proc = subprocess.Popen(b.args, stdout=b.log, stderr=subprocess.STDOUT)
            code = b.proc.wait(timeout=10)
            self.assertEqual(code, 1)
            self.assertIn("held by another process", b.read_log())
            b.cleanup()
        finally:
            a.cleanup()


class CommandLineTest(unittest.TestCase):
    def test_unknown_flag_exits_2(self):
        code, out, err = run_vigil("--no.such.flag=1")
        self.assertEqual(code, 2)
        self.assertIn("unknown long flag '--no.such.flag'", err)

    def test_bad_duration_flag_exits_2(self):
        code, _, err = run_vigil("--query.timeout=abc")
        self.assertEqual(code, 2)
        self.assertIn("--query.timeout", err)

    def test_missing_flag_value_exits_2(self):
        code, _, err = run_vigil("--config.file")
        self.assertEqual(code, 2)

    def test_bad_log_level_exits_2(self):
        code, _, err = run_vigil("--log.level=loud")
        self.assertEqual(code, 2)

    def test_version_and_help(self):
        code, out, _ = run_vigil("--version")
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("vigil, version "))
        code, out, _ = run_vigil("--help")
        self.assertEqual(code, 0)
        for flag in ("--config.file", "--web.listen-address", "--storage.tsdb.path",
                     "--storage.tsdb.retention.time", "--storage.tsdb.retention.size",
                     "--web.enable-lifecycle", "--web.enable-admin-api", "--web.external-url",
                     "--web.route-prefix", "--web.config.file", "--web.cors.origin",
                     "--log.level", "--log.format", "--query.timeout", "--query.max-samples",
                     "--query.max-concurrency", "--query.lookback-delta",
                     "--alertmanager.config.file"):
            self.assertIn(flag[2:], out)

    def test_bad_config_at_start_exits_1(self):
        v = Vigil(config_text=BROKEN)
        v.log = open(v.log_path, "ab")
        v.proc = subprocess.Popen(v.args, stdout=v.log, stderr=subprocess.STDOUT)
        self.assertEqual(v.proc.wait(timeout=10), 1)
        self.assertIn("is not a valid duration", v.read_log())
        v.cleanup()

    def test_json_logs(self):
        v = Vigil(extra_args=["--log.format=json"]).start()
        v.stop()
        import json
        lines = [l for l in v.read_log().splitlines() if l.strip()]
        self.assertTrue(lines)
        for l in lines:
            rec = json.loads(l)
            self.assertIn("level", rec)
            self.assertIn("msg", rec)
        shutil.rmtree(v.tmp, ignore_errors=True)

    def test_route_prefix(self):
        v = Vigil(extra_args=["--web.external-url=http://example.test/vigil/"], prefix="/vigil").start()
        try:
            self.assertEqual(v.get("/vigil/-/healthy")[0], 200)
            self.assertEqual(v.get("/-/healthy")[0], 404)
        finally:
            v.cleanup()


if __name__ == "__main__":
    main()
