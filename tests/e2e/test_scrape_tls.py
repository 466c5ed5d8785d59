"""Scraping over HTTPS with tls_config: a CA file, server_name (the name the
certificate is checked against and sent as SNI, while the connection goes
to the target's address), and insecure_skip_verify.  Vigil scrapes itself,
serving TLS with a certificate that names only metrics.internal."""
import json
import os
import shutil
import ssl
import subprocess
import time
import unittest
import urllib.request

from vigil_e2e import Vigil, main


def openssl(cwd, *args):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@unittest.skipUnless(shutil.which("openssl"), "openssl command not installed")
class ScrapeTLS(unittest.TestCase):
    def test_server_name_and_ca(self):
        v = Vigil("")
        d = v.tmp
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", "/CN=scrape-test-ca")
        with open(os.path.join(d, "srv.ext"), "w") as f:
            f.write("subjectAltName=DNS:metrics.internal\nextendedKeyUsage=serverAuth\n")
        openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
                "-subj", "/CN=metrics.internal")
        openssl(d, "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "srv.ext")
        with open(os.path.join(d, "web.yml"), "w") as f:
            f.write("tls_server_config:\n  cert_file: srv.pem\n  key_file: srv.key\n")
        target = "127.0.0.1:%d" % v.port
        job = ("  - job_name: %s\n    scheme: https\n    tls_config: {%s}\n"
               "    static_configs: [{targets: ['%s']}]\n")
        with open(v.config_file, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n" +
                    job % ("named", "ca_file: ca.pem, server_name: metrics.internal", target) +
                    job % ("unnamed", "ca_file: ca.pem", target) +
                    job % ("insecure", "insecure_skip_verify: true", target))
        v.args.append("--web.config.file=" + os.path.join(d, "web.yml"))
        ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
        ctx.check_hostname = False
        # Vigil.start polls over plain HTTP: start by hand and wait over TLS.
        log = open(v.log_path, "ab")
        v.log = log
        v.proc = subprocess.Popen(v.args, stdout=log, stderr=subprocess.STDOUT)
        try:
            health = {}
            for _ in range(80):
                try:
                    with urllib.request.urlopen("https://127.0.0.1:%d/api/v1/targets" % v.port,
                                                context=ctx, timeout=5) as r:
                        ts = json.loads(r.read())["data"]["activeTargets"]
                except OSError:
                    time.sleep(0.25)
                    continue
                health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in ts}
                if all(h != "unknown" for h, _ in health.values()) and len(health) == 3:
                    break
                time.sleep(0.25)
            self.assertEqual(health["named"], ("up", ""), health)
            self.assertEqual(health["insecure"], ("up", ""), health)
            self.assertEqual(health["unnamed"][0], "down", health)
            # The certificate names metrics.internal, not 127.0.0.1.
            self.assertRegex(health["unnamed"][1].lower(), "certificate|ssl|subject")
            self.assertEqual(v.stop(), 0, v.read_log())
        finally:
            v.cleanup()


if __name__ == "__main__":
    main()
