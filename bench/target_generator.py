#!/usr/bin/env python3
"""Serves many node_exporter-like scrape targets for the scrape benchmark.

Each target is a port on 127.0.0.1 serving /metrics: SERIES series (metric
families of counters, gauges and a histogram, with realistic label sets and
value shapes: ~70% constant, counters that grow, noisy gauges).  The first
family, node_bench_boot_time_seconds, is one series on every target (the
scrape benchmark's one-metric selector); the others vary by target.  Pages are
generated up front (VARIANTS per target, served in turn, each also gzipped)
so that serving costs the generator almost nothing and the servers under
test do all the work.

usage: target_generator.py TARGETS SERIES [VARIANTS]
Each target listens on a free loopback port; once all listen, prints
"ready PORT PORT ..." on stdout.
"""
import gzip
import http.server
import random
import socketserver
import sys
import threading


def make_pages(target, series, variants):
    rnd = random.Random(target)
    families = [("node_bench_boot_time_seconds", "boot", 1)]
    n = 1
    while n < series:
        kind = rnd.choice(["counter", "gauge", "const", "const", "const"])
        name = "node_bench_%s_%d" % ({"counter": "total", "gauge": "value", "const": "info"}[kind], len(families))
        if kind == "counter":
            name = name.replace("_total", "") + "_seconds_total"
        width = min(series - n, rnd.choice([1, 2, 4, 8, 16, 32]))
        families.append((name, kind, width))
        n += width
    pages = []
    for v in range(variants):
        lines = []
        for name, kind, width in families:
            lines.append("# HELP %s Benchmark series of kind %s." % (name, kind))
            lines.append("# TYPE %s %s" % (name, "counter" if kind == "counter" else "gauge"))
            if kind == "boot":
                lines.append("%s %d" % (name, 1700000000 + target))
                continue
            for i in range(width):
                labels = 'cpu="%d",mode="m%d"' % (i, i % 4) if width > 1 else 'device="sda"'
                if kind == "counter":
                    val = "%.2f" % (1000 + i * 13.7 + v * (0.5 + i % 3))
                elif kind == "gauge":
                    val = "%.6g" % (rnd.random() * 1e6)
                else:
                    val = "%d" % (i + 1)
                lines.append("%s{%s} %s" % (name, labels, val))
        text = ("\n".join(lines) + "\n").encode()
        pages.append((text, gzip.compress(text, 6)))
    return pages


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        srv = self.server
        text, gz = srv.pages[srv.turn % len(srv.pages)]
        srv.turn += 1
        use_gz = "gzip" in self.headers.get("Accept-Encoding", "")
        body = gz if use_gz else text
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        if use_gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    targets, series = int(sys.argv[1]), int(sys.argv[2])
    variants = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    servers = []
    for t in range(targets):
        s = Server(("127.0.0.1", 0), Handler)
        s.pages = make_pages(t, series, variants)
        s.turn = 0
        # a long poll interval: 1000 targets polling every 0.5 s would cost
        # the generator CPU that the servers under test should have
        threading.Thread(target=s.serve_forever, args=(30,), daemon=True).start()
        servers.append(s)
    print("ready " + " ".join(str(s.server_address[1]) for s in servers), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
