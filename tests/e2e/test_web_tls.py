"""--web.config.file with tls_server_config: Vigil serves HTTPS as Prometheus
does with the same file (exporter-toolkit's web config).

A throwaway CA, a server certificate (localhost, 127.0.0.1), a second one for
reloads, a client certificate signed by the CA and a self-signed "rogue" client
certificate are made with the openssl command at test time.  Clients are the
standard library's ssl module (verifying the CA and the server name), curl and
promtool.  Where Prometheus 2.42 is installed it is given the same file and
must answer the same: basic auth over TLS, plain HTTP sent to the TLS port,
the client-certificate modes, min_version.
"""
import base64
import crypt  # noqa: deprecated in 3.11 but present; bcrypt through libcrypt
import hashlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import warnings

from vigil_e2e import SANITIZED, Vigil, free_port, main

warnings.filterwarnings("ignore", category=DeprecationWarning)

HAVE_OPENSSL = shutil.which("openssl") is not None
HAVE_PROMETHEUS = shutil.which("prometheus") is not None
GO_PLAIN_HTTP_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


def openssl(cwd, *args):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """CA, server (x2), client (CA-signed) and rogue (self-signed) certificates in d."""
    openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=vigil-test-ca")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("subjectAltName=DNS:client.example\nextendedKeyUsage=clientAuth\n")
    for name, cn, ext in (("server", "localhost", "server.ext"), ("server2", "localhost", "server.ext"),
                          ("client", "client.example", "client.ext")):
        openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + cn)
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext)
    openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out",
            "rogue.pem", "-days", "2", "-subj", "/CN=rogue")


class Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1, checking the certificate against the name localhost."""

    def __init__(self, port, ctx, name="localhost", timeout=10):
        super().__init__("127.0.0.1", port, context=ctx, timeout=timeout)
        self.name = name

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.name)


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


class WebTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not HAVE_OPENSSL:
            raise unittest.SkipTest("openssl command not installed")
        cls.dir = tempfile.mkdtemp(prefix="vigil-tls-")
        make_certs(cls.dir)
        cls.hash = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        cls.nweb = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for v in self.procs:
            if isinstance(v, Vigil):
                rc = v.stop()
                log = v.read_log()
                shutil.rmtree(v.tmp, ignore_errors=True)
                if rc is not None and rc not in (0, 1):
                    self.fail("vigil exited with %d:\n%s" % (rc, log[-3000:]))
                self.assertNotIn("Sanitizer", log)
            else:
                v.terminate()
                v.wait()

    # ---- helpers ----

    def path(self, name):
        return os.path.join(self.dir, name)

    def web(self, tls, extra=""):
        """Writes a web config beside the certificates (relative paths resolve there)."""
        WebTLSTest.nweb += 1
        p = self.path("web%d.yml" % WebTLSTest.nweb)
        with open(p, "w") as f:
            f.write("tls_server_config:\n" + "".join("  %s\n" % l for l in tls.strip().splitlines()) + extra)
        return p

    def ctx(self, cert=None, maxv=None, minv=None):
        c = ssl.create_default_context(cafile=self.path("ca.pem"))
        if cert:
            c.load_cert_chain(self.path(cert + ".pem"), self.path(cert + ".key"))
        if maxv:
            c.maximum_version = maxv
        if minv:
            c.minimum_version = minv
        return c

    def wait_listening(self, port, proc):
        for _ in range(400):
            if proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def vigil(self, web, extra_args=(), expect_start=True):
        v = Vigil(config_text="global: {}\n", extra_args=["--web.config.file=" + web] + list(extra_args))
        v.log = open(v.log_path, "ab")
        v.proc = subprocess.Popen(v.args, stdout=v.log, stderr=subprocess.STDOUT)
        self.procs.append(v)
        if expect_start:
            self.assertTrue(self.wait_listening(v.port, v.proc), v.read_log())
        return v

    def prometheus(self, web):
        """Prometheus given the same web config, or None when not installed."""
        if not HAVE_PROMETHEUS:
            return None
        port = free_port()
        tmp = tempfile.mkdtemp(prefix="vigil-tls-prom-")
        cfg = os.path.join(tmp, "p.yml")
        with open(cfg, "w") as f:
            f.write("global: {}\n")
        p = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--web.config.file=" + web,
                              "--web.listen-address=127.0.0.1:%d" % port,
                              "--storage.tsdb.path=" + os.path.join(tmp, "data")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        self.addCleanup(shutil.rmtree, tmp, True)
        self.assertTrue(self.wait_listening(port, p))
        p.port = port
        return p

    def ask(self, port, ctx=None, path="/-/healthy", headers=None, method="GET", body=None, name="localhost"):
        c = Conn(port, ctx or self.ctx(), name)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def outcome(self, port, ctx):
        """The status of GET /-/healthy, or "refused" when TLS turns the client away
        (with TLS 1.3 a rejected client certificate shows on the first read)."""
        try:
            return self.ask(port, ctx)[0]
        except (OSError, http.client.HTTPException):
            return "refused"

    def metric(self, port, name, ctx=None, headers=None):
        _, _, body = self.ask(port, ctx, "/metrics", headers)
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def served_cert(self, port):
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            with self.ctx().wrap_socket(s, server_hostname="localhost") as t:
                return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()

    def pem_digest(self, name):
        with open(self.path(name + ".pem")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        return hashlib.sha256(der).hexdigest()

    def wait_exit(self, v, timeout=20):
        try:
            return v.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("vigil did not exit:\n" + v.read_log())

    # ---- tests ----

    def test_handshake_verifies_ca_and_name(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key",
                       "http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\n")
        v = self.vigil(web)
        status, hdrs, body = self.ask(v.port)
        self.assertEqual((status, body), (200, b"Prometheus Server is Healthy.\n"))
        self.assertEqual(hdrs.get("strict-transport-security"), "max-age=31536000")
        self.assertEqual(self.served_cert(v.port), self.pem_digest("server"))
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.ask(v.port, name="wrong.example")
        with self.assertRaises(ssl.SSLCertVerificationError):  # a client that does not trust our CA
            Conn(v.port, ssl.create_default_context()).connect()
        # Defaults as the toolkit's: TLS 1.3 when the client offers it, 1.2 accepted.
        with socket.create_connection(("127.0.0.1", v.port), 5) as s:
            with self.ctx().wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.version(), "TLSv1.3")
        self.assertEqual(self.outcome(v.port, self.ctx(maxv=ssl.TLSVersion.TLSv1_2)), 200)
        self.assertIn("TLS is enabled.", v.read_log())

    def test_basic_auth_over_tls_like_prometheus(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key",
                       "basic_auth_users:\n  alice: '%s'\n" % self.hash)
        cases = [None, basic("alice", "wrong"), "Basic !!notbase64", "Bearer xyz", basic("mallory", "s3cret"),
                 basic("alice", "s3cret")]

        def run(port):
            out = []
            for a in cases:
                status, hdrs, body = self.ask(port, path="/api/v1/status/buildinfo",
                                              headers={"Authorization": a} if a else {})
                out.append((status, hdrs.get("www-authenticate"), body if status == 401 else b""))
            return out

        v = self.vigil(web)
        got = run(v.port)
        self.assertEqual([g[0] for g in got], [401, 401, 401, 401, 401, 200])
        for g in got[:-1]:
            self.assertEqual(g[1:], ("Basic", b"Unauthorized\n"))
        p = self.prometheus(web)
        if p:
            self.assertEqual(got, run(p.port))

    def test_plain_http_to_tls_port_gets_gos_400(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key")
        v = self.vigil(web)

        def plain(port, first=b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), 5) as s:
                try:
                    for i in range(0, len(first), 2):  # in pieces: the sniffing must wait for 5 bytes
                        s.sendall(first[i:i + 2])
                        if i < 6:
                            time.sleep(0.02)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # Go closes as soon as it has answered
                data = b""
                while True:
                    d = s.recv(4096)
                    if not d:
                        return data
                    data += d

        before = self.metric(v.port, "vigil_http_tls_handshake_errors_total")
        self.assertEqual(plain(v.port), GO_PLAIN_HTTP_ANSWER)
        self.assertEqual(plain(v.port, b"POST /api/v1/query HTTP/1.1\r\n\r\n"), GO_PLAIN_HTTP_ANSWER)
        # Garbage that is not HTTP gets a TLS alert, not the text; both count.
        self.assertNotEqual(plain(v.port, b"\x01\x02\x03\x04\x05\x06\x07\x08"), GO_PLAIN_HTTP_ANSWER)
        self.assertEqual(self.metric(v.port, "vigil_http_tls_handshake_errors_total"), before + 3)
        self.assertEqual(self.ask(v.port)[0], 200)  # and the port still speaks TLS
        p = self.prometheus(web)
        if p:
            self.assertEqual(plain(p.port), GO_PLAIN_HTTP_ANSWER)

    def test_min_and_max_version(self):
        web13 = self.web("cert_file: server.pem\nkey_file: server.key\nmin_version: TLS13")
        web12 = self.web("cert_file: server.pem\nkey_file: server.key\nmax_version: TLS12")
        only12 = self.ctx(maxv=ssl.TLSVersion.TLSv1_2)
        only13 = self.ctx(minv=ssl.TLSVersion.TLSv1_3)
        v13, v12 = self.vigil(web13), self.vigil(web12)
        got = [self.outcome(v13.port, only12), self.outcome(v13.port, only13),
               self.outcome(v12.port, only12), self.outcome(v12.port, only13)]
        self.assertEqual(got, ["refused", 200, 200, "refused"])
        p13, p12 = self.prometheus(web13), self.prometheus(web12)
        if p13:
            self.assertEqual(got, [self.outcome(p13.port, only12), self.outcome(p13.port, only13),
                                   self.outcome(p12.port, only12), self.outcome(p12.port, only13)])

    def test_cipher_suites_and_curves(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key\nmax_version: TLS12\n"
                       "cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\ncurve_preferences: [CurveP384]")
        v = self.vigil(web)
        with socket.create_connection(("127.0.0.1", v.port), 5) as s:
            with self.ctx().wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.cipher()[0], "ECDHE-RSA-AES256-GCM-SHA384")
        c = self.ctx()
        c.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
        c.maximum_version = ssl.TLSVersion.TLSv1_2
        self.assertEqual(self.outcome(v.port, c), "refused")

    def test_client_certificate_modes(self):
        clients = {"none": self.ctx(), "ca-signed": self.ctx("client"), "self-signed": self.ctx("rogue")}
        want = {
            "NoClientCert": {"none": 200, "ca-signed": 200, "self-signed": 200},
            "RequestClientCert": {"none": 200, "ca-signed": 200, "self-signed": 200},
            "RequireAnyClientCert": {"none": "refused", "ca-signed": 200, "self-signed": 200},
            "VerifyClientCertIfGiven": {"none": 200, "ca-signed": 200, "self-signed": "refused"},
            "RequireAndVerifyClientCert": {"none": "refused", "ca-signed": 200, "self-signed": "refused"},
        }
        for mode, expected in want.items():
            ca = "\nclient_ca_file: ca.pem" if mode != "NoClientCert" else ""
            web = self.web("cert_file: server.pem\nkey_file: server.key\nclient_auth_type: %s%s" % (mode, ca))
            v = self.vigil(web)
            got = dict((k, self.outcome(v.port, c)) for k, c in clients.items())
            self.assertEqual(got, expected, mode)
            p = self.prometheus(web)
            if p:
                self.assertEqual(dict((k, self.outcome(p.port, c)) for k, c in clients.items()), got, mode)
        # client_allowed_sans (newer toolkits): the CA-signed client has DNS:client.example.
        for sans, expect in (("[client.example]", 200), ("[other.example]", "refused")):
            web = self.web("cert_file: server.pem\nkey_file: server.key\nclient_auth_type: "
                           "RequireAndVerifyClientCert\nclient_ca_file: ca.pem\nclient_allowed_sans: " + sans)
            v = self.vigil(web)
            self.assertEqual(self.outcome(v.port, clients["ca-signed"]), expect, sans)

    def test_inline_cert_and_key(self):
        with open(self.path("server.pem")) as f:
            cert = f.read()
        with open(self.path("server.key")) as f:
            key = f.read()
        indent = lambda s: "".join("    " + l + "\n" for l in s.strip().splitlines())
        web = self.web("cert: |\n%skey: |\n%s" % (indent(cert), indent(key)))
        v = self.vigil(web)
        self.assertEqual(self.ask(v.port)[0], 200)

    def test_bad_tls_config_fails_start(self):
        cases = [
            ("cert_file: missing.pem\nkey_file: server.key",
             "failed to load X509KeyPair: open %s: no such file or directory" % self.path("missing.pem")),
            ("cert_file: server.pem\nkey_file: client.key",
             "failed to load X509KeyPair: private key does not match public key"),
            ("cert_file: server.key\nkey_file: server.key", "failed to load X509KeyPair"),
            ("cert_file: server.pem", "missing key_file"),
            ("cert_file: server.pem\nkey_file: server.key\ncipher_suites: [TLS_RSA_WITH_RC4_128_SHA]",
             "unknown cipher: TLS_RSA_WITH_RC4_128_SHA"),
            ("cert_file: server.pem\nkey_file: server.key\nmin_version: TLS14", "unknown TLS version: TLS14"),
            ("cert_file: server.pem\nkey_file: server.key\ncurve_preferences: [P256]", "unknown curve: P256"),
            ("cert_file: server.pem\nkey_file: server.key\nclient_auth_type: Sometimes",
             "Invalid ClientAuth: Sometimes"),
            ("cert_file: server.pem\nkey_file: server.key\nclient_ca_file: ca.pem",
             "Client CA's have been configured without a Client Auth Policy"),
        ]
        for tls, msg in cases:
            web = self.web(tls)
            v = self.vigil(web, expect_start=False)
            self.assertEqual(self.wait_exit(v), 1, tls)
            log = v.read_log()
            self.assertIn(msg.replace('"', '\\"'), log, tls)
            self.assertIn("Invalid --web.config.file", log)
            if shutil.which("promtool"):  # promtool agrees that the file is bad
                p = subprocess.run(["promtool", "check", "web-config", web], capture_output=True, text=True)
                self.assertEqual(p.returncode, 1, tls)

    def test_reload_keeps_serving_and_swaps_certificates(self):
        for name in ("server", "server2"):
            for ext in ("pem", "key"):
                shutil.copy(self.path("%s.%s" % (name, ext)), self.path("live-%s.%s" % (name, ext)))
        web = self.web("cert_file: live.pem\nkey_file: live.key")
        shutil.copy(self.path("server.pem"), self.path("live.pem"))
        shutil.copy(self.path("server.key"), self.path("live.key"))
        v = self.vigil(web, ["--web.enable-lifecycle"])
        self.assertEqual(self.served_cert(v.port), self.pem_digest("server"))
        keep = Conn(v.port, self.ctx())  # a keep-alive connection across the reloads
        keep.request("GET", "/-/healthy")
        self.assertEqual(keep.getresponse().read(), b"Prometheus Server is Healthy.\n")

        # A key that does not match: the reload fails, the old certificate stays.
        shutil.copy(self.path("client.key"), self.path("live.key"))
        v.signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertEqual(self.metric(v.port, "prometheus_config_last_reload_successful"), 0)
        self.assertIn("private key does not match public key", v.read_log())
        self.assertEqual(self.served_cert(v.port), self.pem_digest("server"))
        status, _, body = self.ask(v.port, path="/-/reload", method="POST")
        self.assertEqual(status, 500)
        self.assertIn(b"private key does not match public key", body)

        # New files: new connections get the new certificate, old ones go on.
        shutil.copy(self.path("server2.pem"), self.path("live.pem"))
        shutil.copy(self.path("server2.key"), self.path("live.key"))
        status, _, _ = self.ask(v.port, path="/-/reload", method="POST")
        self.assertEqual(status, 200)
        self.assertEqual(self.served_cert(v.port), self.pem_digest("server2"))
        self.assertEqual(self.metric(v.port, "prometheus_config_last_reload_successful"), 1)
        keep.request("GET", "/-/healthy")
        self.assertEqual(keep.getresponse().status, 200)
        keep.close()

        # Turning TLS off takes a restart: refused, still TLS.
        with open(web, "w") as f:
            f.write("basic_auth_users: {}\n")
        v.signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIn("turning TLS off needs a restart", v.read_log())
        self.assertEqual(self.ask(v.port)[0], 200)

    def test_promtool_and_curl(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key", "basic_auth_users:\n  alice: '%s'\n" % self.hash)
        v = self.vigil(web)
        for _ in range(200):  # until storage is open
            if self.ask(v.port, path="/-/ready", headers={"Authorization": basic("alice", "s3cret")})[0] == 200:
                break
            time.sleep(0.05)
        if shutil.which("curl"):
            p = subprocess.run(["curl", "-sS", "--cacert", self.path("ca.pem"), "-u", "alice:s3cret",
                                "https://localhost:%d/api/v1/query?query=1%%2B1" % v.port,
                                "--resolve", "localhost:%d:127.0.0.1" % v.port], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn('"result":[', p.stdout)
            self.assertIn('"2"]', p.stdout)
        if shutil.which("promtool"):
            # promtool 2.42 has no --http.config.file: Go's client trusts
            # SSL_CERT_FILE and sends the URL's user as basic auth.
            env = dict(os.environ, SSL_CERT_FILE=self.path("ca.pem"))
            p = subprocess.run(["promtool", "query", "instant", "https://alice:s3cret@localhost:%d" % v.port, "1+1"],
                               capture_output=True, text=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("2", p.stdout)
            p = subprocess.run(["promtool", "query", "instant", "https://alice:wrong@localhost:%d" % v.port, "1+1"],
                               capture_output=True, text=True, timeout=30, env=env)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("401", p.stderr)

    def test_stalled_handshake_is_dropped(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key")
        v = self.vigil(web, ["--web.read-timeout=2s"])
        # A ClientHello's first bytes, then nothing.
        with socket.create_connection(("127.0.0.1", v.port), 10) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00")
            t0 = time.time()
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
            waited = time.time() - t0
        self.assertGreater(waited, 1.5)
        self.assertLess(waited, 5)
        # After a complete handshake, a silent client is dropped the same way.
        with socket.create_connection(("127.0.0.1", v.port), 10) as s:
            with self.ctx().wrap_socket(s, server_hostname="localhost") as t:
                t0 = time.time()
                try:
                    while t.recv(4096):
                        pass
                except (ConnectionResetError, ssl.SSLError):
                    pass
                self.assertLess(time.time() - t0, 5)

    def test_keepalive_pipelining_large_responses(self):
        web = self.web("cert_file: server.pem\nkey_file: server.key")
        v = self.vigil(web)
        for _ in range(200):
            if self.ask(v.port, path="/-/ready")[0] == 200:
                break
            time.sleep(0.05)
        c = Conn(v.port, self.ctx())
        for _ in range(100):
            c.request("GET", "/api/v1/status/buildinfo")
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        # A 3 MB response (a string query echoes its literal), and the same gzipped.
        big = "x" * 3000000
        for enc in ("identity", "gzip"):
            c.request("POST", "/api/v1/query", body="query=%22" + big + "%22",
                      headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Encoding": enc})
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            if enc == "identity":
                self.assertIn(big.encode(), body)
            else:
                self.assertLess(len(body), 100000)
        c.close()
        # Pipelined requests, answered in order, the last one closing.
        with socket.create_connection(("127.0.0.1", v.port), 10) as s:
            with self.ctx().wrap_socket(s, server_hostname="localhost") as t:
                reqs = b"".join(b"GET /api/v1/query?query=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(60))
                t.sendall(reqs + b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    try:
                        d = t.recv(65536)
                    except ssl.SSLError:
                        break
                    if not d:
                        break
                    data += d
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 61)
        order = [int(x.split(b'"')[0]) for x in data.split(b',"')[1:] if x[:1].isdigit()]
        self.assertEqual(order, list(range(60)))
        self.assertTrue(data.endswith(b"Prometheus Server is Healthy.\n"))


if __name__ == "__main__":
    main()
