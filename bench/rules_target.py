#!/usr/bin/env python3
"""A scrape target for bench/rules.sh: the seedstack fixture's application
metrics (shared/fixtures/seedstack/exporter.py, both apps), replicated with
a `replica` label until the page holds about --series series, so that the
fixture's rules run over a realistic amount of data.  The page is rebuilt
at most once a second; only the servers' CPU is measured, not this."""
import argparse
import http.server
import importlib.util
import math
import os
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORTER = os.path.join(HERE, "..", "..", "shared", "fixtures", "seedstack", "exporter.py")


def load_exporter():
    spec = importlib.util.spec_from_file_location("seedstack_exporter", EXPORTER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def replicate(text, replicas):
    meta, rows = [], []
    for line in text.splitlines():
        (meta if line.startswith("#") else rows).append(line)
    out = list(meta)
    for r in range(replicas):
        tag = 'replica="%d"' % r
        for line in rows:
            name, _, rest = line.partition("{")
            if rest:
                out.append("%s{%s,%s" % (name, tag, rest))
            else:
                name, _, value = line.partition(" ")
                out.append("%s{%s} %s" % (name, tag, value))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:9201")
    ap.add_argument("--series", type=int, default=10000)
    args = ap.parse_args()
    exp = load_exporter()
    models = [exp.Model("smartattend", "", None), exp.Model("virtualqueue", "", None)]
    per = sum(len([l for l in m.render().decode().splitlines() if not l.startswith("#")])
              for m in models)
    replicas = max(1, math.ceil(args.series / per))
    cache = {"t": 0, "body": b""}
    lock = threading.Lock()

    def page():
        with lock:
            if time.time() - cache["t"] >= 1:
                lines = []
                for m in models:
                    lines += replicate(m.render().decode(), replicas)
                # Families of both apps repeat: keep each HELP/TYPE once.
                seen, body = set(), []
                for l in lines:
                    if l.startswith("#"):
                        if l in seen:
                            continue
                        seen.add(l)
                    body.append(l)
                cache["body"] = ("\n".join(body) + "\n").encode()
                cache["t"] = time.time()
            return cache["body"]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            body = page()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    host, _, port = args.listen.rpartition(":")
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
