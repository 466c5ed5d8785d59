"""Shared helpers for Vigil's end-to-end tests.

Each test starts the real `vigil` binary (path in $VIGIL_BIN, set by ctest)
on a free loopback port with its own temporary data directory, talks to it
over HTTP with the standard library only, and stops it.  Nothing here knows
Vigil's internals: these tests see what a user or a client sees.
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

VIGIL_BIN = os.environ.get("VIGIL_BIN", "build/vigil")
VIGIL_SRC = os.environ.get("VIGIL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.join(VIGIL_SRC, "..", "shared")
SANITIZED = os.environ.get("VIGIL_SANITIZE", "OFF").upper() in ("ON", "1", "TRUE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Vigil:
    """A running vigil process on 127.0.0.1:<port>."""

    def __init__(self, config_text=None, config_file=None, extra_args=(), tmpdir=None, prefix=""):
        self.prefix = prefix
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="vigil-e2e-")
        self.port = free_port()
        if config_file is None:
            config_file = os.path.join(self.tmp, "prometheus.yml")
            with open(config_file, "w") as f:
                f.write(config_text if config_text is not None else
                        "scrape_configs:\n  - job_name: vigil\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % self.port)
        self.config_file = config_file
        self.data = os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "vigil.log")
        self.args = [VIGIL_BIN, "--config.file=" + config_file,
                     "--web.listen-address=127.0.0.1:%d" % self.port,
                     "--storage.tsdb.path=" + self.data] + list(extra_args)
        self.proc = None

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("vigil exited with %d:\n%s" % (self.proc.returncode,
                                                                     self.read_log()))
            try:
                status, _, _ = self.request("GET", self.prefix + ("/-/ready" if wait_ready else "/-/healthy"))
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("vigil did not become ready:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def metric(self, name):
        """The value of an unlabelled sample on /metrics, or None."""
        _, _, body = self.get("/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_vigil(*args, timeout=60):
    """Runs `vigil ARGS...` to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([VIGIL_BIN] + list(args), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    unittest.main(verbosity=2)
