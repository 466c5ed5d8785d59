"""GET /api/v1/status/config: the loaded configuration printed back as YAML.

Vigil and Prometheus 2.42 load the same configs (the seedstack fixture and
the files under status_config/: authentication and TLS, service discovery,
remote storage with relabel actions and awkward label values), both from the
same working directory with a relative --config.file, so relative paths are
printed the same way (joined to "." and cleaned).  Their YAML is compared
line by line after the normalisations listed in V3_ONLY and normalise_prom:
Vigil prints what Prometheus 3.x prints, and each difference from 2.42 is
named there with the reason.

Then the YAML Vigil printed is itself loaded by a second Vigil, which must
print it again unchanged: the output is valid YAML that Vigil (and thus
Prometheus 3) reads back to the same configuration.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from vigil_e2e import SHARED, Vigil, free_port, main  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "status_config")

# Keys Prometheus 3.x prints and 2.42 does not know, dropped (with anything
# nested under them) from Vigil's output.  (path suffix, key); "*" = anywhere.
V3_ONLY = [
    ("", "runtime"),  # 3.x: runtime.gogc (Go GC tuning)
    ("", "otlp"),  # 3.x: the OTLP receiver's translation settings
    ("global", "metric_name_validation_scheme"),  # 3.x: UTF-8 names
    ("global", "scrape_native_histograms"),  # 3.x: per-config native histograms
    # 3.x's DefaultGlobalConfig (kept when the file has no global section)
    # sets the escaping scheme; 2.42 has none.
    ("global", "metric_name_escaping_scheme"),
    ("scrape_configs", "track_timestamps_staleness"),  # 2.48+
    ("scrape_configs", "scrape_protocols"),  # 2.49+: content negotiation
    ("scrape_configs", "scrape_native_histograms"),  # 3.x
    ("scrape_configs", "always_scrape_classic_histograms"),  # 3.x
    ("scrape_configs", "convert_classic_histograms_to_nhcb"),  # 3.x
    ("scrape_configs", "enable_compression"),  # 2.49+
    ("scrape_configs", "metric_name_validation_scheme"),  # 3.x
    ("scrape_configs", "metric_name_escaping_scheme"),  # 3.x
    ("scrape_configs", "extra_scrape_metrics"),  # 3.x
    ("oauth2", "client_secret_ref"),  # prometheus/common secret managers (3.x)
    ("remote_write", "protobuf_message"),  # 3.x: remote write 2.0
    ("remote_read", "chunked_read_limit"),  # 3.x fills the 50MB default in; 2.42 leaves 0 out
]

# 2.42 marshals tls_config.min_version/max_version as the Go uint16.
TLS_NUMBERS = {"769": "TLS10", "770": "TLS11", "771": "TLS12", "772": "TLS13"}


def walk(text):
    """Yields (path, indent, key, line): path = keys of the enclosing
    mappings, outermost first; list items ("- ") open their mapping at
    indent + 2."""
    stack = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        body = line.lstrip(" ")
        ind = len(line) - len(body)
        if body.startswith("- "):
            ind, body = ind + 2, body[2:]
        m = re.match(r"([^\s:'\"]+|'[^']*'|\"[^\"]*\"):( |$)", body)
        key = m.group(1) if m else None
        while stack and stack[-1][0] >= ind:
            stack.pop()
        yield tuple(k for _, k in stack), ind, key, line
        if key:
            stack.append((ind, key))


def drop(text, rule):
    """Removes the lines for which rule(path, key, line) holds, with
    everything nested below them."""
    out, skip = [], None
    for path, ind, key, line in walk(text):
        raw = len(line) - len(line.lstrip(" "))
        if skip is not None and (raw > skip or (raw == skip and line.lstrip().startswith("- "))):
            continue
        skip = None
        if key and rule(path, key, line):
            skip = raw
            continue
        out.append(line)
    return out


def in_path(path, suffix):
    return suffix == "" and not path or suffix in path


def normalise_vigil(text):
    def rule(path, key, line):
        if any(key == k and (in_path(path, p) if p else not path) for p, k in V3_ONLY):
            return True
        # 3.x prints an explicitly empty separator/replacement as "" (prometheus
        # PR #18653); 2.42 leaves empty strings out (omitempty).
        if key in ("replacement", "separator") and line.endswith(': ""'):
            return True
        return common_rule(path, key, line)

    return drop(text, rule)


def normalise_prom(text):
    def rule(path, key, line):
        return common_rule(path, key, line)

    lines = drop(text, rule)
    out = []
    for path, _, key, line in walk("\n".join(lines)):
        # 2.42's common marshals TLS versions as numbers; 3.x as "TLS12".
        if key in ("min_version", "max_version"):
            num = line.split(": ", 1)[1]
            line = line.replace(": " + num, ": " + TLS_NUMBERS.get(num, num))
        # 2.42's remote write queue defaults (capacity 2500, 500 per send) were
        # raised in 2.50 to 10000 and 2000; none of these configs sets them.
        if "remote_write" in path and key == "capacity" and line.endswith(": 2500"):
            line = line.replace("2500", "10000")
        if "remote_write" in path and key == "max_samples_per_send" and line.endswith(": 500"):
            line = line.replace("500", "2000")
        out.append(line)
    return out


def common_rule(path, key, line):
    # 3.x leaves out a defaulted relabel regex ((.*), prometheus PR #14004);
    # 2.42 prints it.  Dropped from both so a written "(.*)" does not count.
    if key == "regex" and line.endswith(": (.*)"):
        return True
    # Remote write's HTTP/2 default became false in 2.43 (3.x); 2.42 prints true.
    if key == "enable_http2" and "remote_write" in path:
        return True
    # prometheus/common moved the proxy fields after enable_http2 (0.44); in
    # 2.42 proxy_url comes before tls_config.  Compared apart (see proxies()).
    if key == "proxy_url":
        return True
    return False


def proxies(text):
    return [line.strip() for _, _, key, line in walk(text) if key == "proxy_url"]


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status/config" % port, timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["yaml"]


class Prometheus:
    def __init__(self, cwd, config):
        self.port = free_port()
        self.log = open(os.path.join(cwd, "prometheus.log"), "ab")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config, "--web.listen-address=127.0.0.1:%d" % self.port,
             "--storage.tsdb.path=prom-data"], cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(400):
            try:
                if urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port).status == 200:
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("prometheus did not start; see %s" % self.log.name)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


class StatusConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vigil-status-config-")
        seed = os.path.join(SHARED, "fixtures", "seedstack")
        shutil.copy(os.path.join(seed, "prometheus.yml"), os.path.join(cls.tmp, "seedstack.yml"))
        if os.path.isdir(os.path.join(seed, "rules")):
            shutil.copytree(os.path.join(seed, "rules"), os.path.join(cls.tmp, "rules"))
        for name in os.listdir(HERE):
            shutil.copy(os.path.join(HERE, name), cls.tmp)
        os.makedirs(os.path.join(cls.tmp, "rules"), exist_ok=True)
        os.makedirs(os.path.join(cls.tmp, "sd"), exist_ok=True)
        for path, text in (("rules/x.yml", "groups: []\n"), ("sd/a.json", "[]\n"),
                           ("tok", "token\n"), ("pw", "secret\n")):
            with open(os.path.join(cls.tmp, path), "w") as f:
                f.write(text)
        # A real certificate: Prometheus builds the alertmanager client at load.
        cls.have_tls = shutil.which("openssl") is not None
        if cls.have_tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", "key.pem", "-out", "cert.pem", "-days", "3650",
                            "-subj", "/CN=vigil-test"], cwd=cls.tmp, check=True,
                           capture_output=True)
            shutil.copy(os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "ca.pem"))
        cls.have_prom = shutil.which("prometheus") is not None

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def vigil_yaml(self, config):
        v = Vigil(config_file=config, tmpdir=tempfile.mkdtemp(dir=self.tmp))
        cwd = os.getcwd()
        os.chdir(self.tmp)  # relative --config.file, as Prometheus gets it
        try:
            v.start()
            return fetch(v.port)
        finally:
            v.stop()
            os.chdir(cwd)

    def prom_yaml(self, config):
        p = Prometheus(self.tmp, config)
        try:
            return fetch(p.port)
        finally:
            p.stop()

    def check(self, config):
        if config == "auth_tls.yml" and not self.have_tls:
            self.skipTest("openssl not available")
        vy = self.vigil_yaml(config)
        # Round trip: the printed YAML loads and prints the same again.
        again = config + ".printed.yml"
        with open(os.path.join(self.tmp, again), "w") as f:
            f.write(vy)
        self.assertEqual(self.vigil_yaml(again), vy, "printed config does not round-trip")
        if not self.have_prom:
            return
        py = self.prom_yaml(config)
        self.assertEqual(proxies(vy), proxies(py))
        vl, pl = normalise_vigil(vy), normalise_prom(py)
        if vl != pl:
            import difflib
            diff = "\n".join(difflib.unified_diff(pl, vl, "prometheus-2.42", "vigil", lineterm=""))
            self.fail("%s: YAML differs after normalisation:\n%s" % (config, diff))

    def test_seedstack(self):
        self.check("seedstack.yml")

    def test_auth_tls(self):
        self.check("auth_tls.yml")

    def test_service_discovery(self):
        self.check("sd.yml")

    def test_remote_and_relabel(self):
        self.check("remote_relabel.yml")

    def test_secrets_are_hidden(self):
        for config in ("auth_tls.yml", "remote_relabel.yml"):
            if config == "auth_tls.yml" and not self.have_tls:
                continue
            y = self.vigil_yaml(config)
            for secret in ("hunter2", "pw@", "pass@", "\"cs\"", ": cs\n", ": p\n"):
                self.assertNotIn(secret, y, config)
            self.assertIn("<secret>", y)


if __name__ == "__main__":
    main()
