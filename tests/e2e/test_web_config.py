"""--web.config.file: basic auth with bcrypt hashes and extra response
headers, checked against Prometheus 2.42 given the same file: no header,
wrong password, malformed header, unknown user, right password."""
import base64
import crypt  # noqa: deprecated in 3.11 but present; bcrypt through libcrypt
import http.client
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import warnings

from vigil_e2e import Vigil, free_port, run_vigil, main

warnings.filterwarnings("ignore", category=DeprecationWarning)


def ask(port, auth=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/api/v1/status/buildinfo", headers={"Authorization": auth} if auth else {})
    r = c.getresponse()
    out = (r.status, r.getheader("WWW-Authenticate"), r.getheader("Content-Security-Policy"), r.read())
    c.close()
    return out


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


class WebConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-webcfg-")
        h = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        self.web = os.path.join(self.tmp, "web.yml")
        with open(self.web, "w") as f:
            f.write("basic_auth_users:\n  alice: '%s'\n"
                    "http_server_config:\n  headers:\n    Content-Security-Policy: \"default-src 'self'\"\n" % h)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    CASES = [None, basic("alice", "wrong"), "Basic !!notbase64", "Bearer xyz",
             basic("mallory", "s3cret"), basic("alice", "s3cret")]

    def test_basic_auth_like_prometheus(self):
        v = Vigil(extra_args=["--web.config.file=" + self.web])
        v.log = open(v.log_path, "ab")
        v.proc = subprocess.Popen(v.args, stdout=v.log, stderr=subprocess.STDOUT)
        try:
            for _ in range(200):
                try:
                    if ask(v.port, basic("alice", "s3cret"))[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            got = [ask(v.port, a) for a in self.CASES]
            self.assertEqual([g[0] for g in got], [401, 401, 401, 401, 401, 200])
            for g in got[:-1]:
                self.assertEqual((g[1], g[3]), ("Basic", b"Unauthorized\n"))
            self.assertTrue(all(g[2] == "default-src 'self'" for g in got), got)
            # Repeated good requests are answered from the cache, fast.
            t0 = time.time()
            for _ in range(50):
                self.assertEqual(ask(v.port, basic("alice", "s3cret"))[0], 200)
            self.assertLess(time.time() - t0, 5)
        finally:
            v.cleanup()
        if not shutil.which("prometheus"):
            return
        port = free_port()
        cfg = os.path.join(self.tmp, "p.yml")
        with open(cfg, "w") as f:
            f.write("global: {}\n")
        p = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--web.config.file=" + self.web,
                              "--web.listen-address=127.0.0.1:%d" % port,
                              "--storage.tsdb.path=" + os.path.join(self.tmp, "pd")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    if ask(port, basic("alice", "s3cret"))[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            want = [ask(port, a) for a in self.CASES]
            self.assertEqual([(g[0], g[1], g[2]) for g in got], [(w[0], w[1], w[2]) for w in want])
            self.assertEqual([g[3] for g in got[:-1]], [w[3] for w in want[:-1]])
        finally:
            p.terminate()
            p.wait()

    def test_bad_web_config_refuses_to_start(self):
        with open(self.web, "w") as f:
            f.write("basic_auth_users:\n  bob: plaintext\n")
        v = Vigil(extra_args=["--web.config.file=" + self.web])
        v.log = open(v.log_path, "ab")
        v.proc = subprocess.Popen(v.args, stdout=v.log, stderr=subprocess.STDOUT)
        self.assertEqual(v.proc.wait(timeout=10), 1)
        self.assertIn('the password of user \\"bob\\" is not a bcrypt hash', v.read_log())
        v.cleanup()


if __name__ == "__main__":
    main()
