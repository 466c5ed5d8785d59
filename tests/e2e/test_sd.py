"""Service discovery that runs while Vigil runs: http_sd_configs,
dns_sd_configs and docker_sd_configs, seen through /api/v1/targets
(discoveredLabels) and the scraped `up` series.

* http_sd: a small HTTP server whose answer the test changes (targets
  added, relabelled, removed); a failing endpoint keeps the last targets
  and counts prometheus_sd_http_failures_total; a reload keeps the loops.
* dns_sd: a small DNS server on UDP (Vigil is pointed at it with
  VIGIL_DNS_SD_NAMESERVER, as Prometheus can only read /etc/resolv.conf)
  answering A, AAAA, SRV, MX and NS; a name that starts failing keeps its
  targets.
* docker_sd: a fake Docker Engine API on a unix socket; when `prometheus`
  (2.42) is installed it is pointed at the same socket and both servers'
  discovered label sets must be equal.
"""
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

from vigil_e2e import Vigil, free_port, main


def get_json(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return json.loads(r.read())


def active(port, pool=None):
    ts = get_json(port, "/api/v1/targets?state=active")["data"]["activeTargets"]
    return [t for t in ts if pool is None or t["scrapePool"] == pool]


def wait_for(cond, timeout=15, step=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("condition not met; last value: %r" % (last,))


def finish(test, v):
    """Stops Vigil and checks that it exited cleanly (no sanitizer report:
    the asynchronous SD shutdown must free everything exactly once)."""
    code = v.stop()
    log = v.read_log()
    v.cleanup()
    test.assertNotIn("Sanitizer", log)
    test.assertEqual(code, 0, log[-3000:])


def query(port, q):
    return get_json(port, "/api/v1/query?query=" + urllib.parse.quote(q))["data"]["result"]


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"# TYPE x gauge\nx 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def serve(handler, addr=("127.0.0.1", 0)):
    srv = http.server.ThreadingHTTPServer(addr, handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class SDServer(http.server.BaseHTTPRequestHandler):
    """The http_sd endpoint: answers with the class's current state."""
    body = b"[]"
    status = 200
    content_type = "application/json"
    delay = 0.0
    headers_seen = []

    def do_GET(self):
        cls = type(self)
        cls.headers_seen.append(dict(self.headers))
        time.sleep(cls.delay)
        self.send_response(cls.status)
        self.send_header("Content-Type", cls.content_type)
        self.send_header("Content-Length", str(len(cls.body)))
        self.end_headers()
        try:
            self.wfile.write(cls.body)
        except OSError:
            pass  # Vigil stopped while a slow answer was on its way

    def log_message(self, *a):
        pass


class HttpSDTest(unittest.TestCase):
    def setUp(self):
        self.ex1, self.ex2 = serve(Exporter), serve(Exporter)
        self.a = "127.0.0.1:%d" % self.ex1.server_address[1]
        self.b = "127.0.0.1:%d" % self.ex2.server_address[1]
        SDServer.headers_seen = []
        SDServer.status, SDServer.content_type, SDServer.delay = 200, "application/json", 0.0
        self.set_groups([{"targets": [self.a], "labels": {"team": "a"}}])
        self.sd = serve(SDServer)
        self.url = "http://127.0.0.1:%d/sd" % self.sd.server_address[1]
        self.cfg = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\n"
                    "scrape_configs:\n"
                    "  - job_name: http\n"
                    "    http_sd_configs:\n"
                    "      - url: %s\n"
                    "        refresh_interval: 1s\n" % self.url)
        self.v = Vigil(config_text=self.cfg).start()

    def tearDown(self):
        finish(self, self.v)
        for s in (self.ex1, self.ex2, self.sd):
            s.shutdown()
            s.server_close()

    def set_groups(self, groups):
        SDServer.body = json.dumps(groups).encode()

    def targets(self):
        return {t["discoveredLabels"]["__address__"]: t for t in active(self.v.port, "http")}

    def up(self):
        return {r["metric"]["instance"]: r["value"][1] for r in query(self.v.port, 'up{job="http"}')}

    def test_targets_follow_the_endpoint(self):
        ts = wait_for(lambda: self.targets().get(self.a) and self.targets())
        self.assertEqual(ts[self.a]["discoveredLabels"],
                         {"__address__": self.a, "__meta_url": self.url, "team": "a", "job": "http",
                          "__scheme__": "http", "__metrics_path__": "/metrics",
                          "__scrape_interval__": "1s", "__scrape_timeout__": "500ms"})
        self.assertEqual(ts[self.a]["labels"], {"instance": self.a, "job": "http", "team": "a"})
        wait_for(lambda: self.up().get(self.a) == "1")
        h = SDServer.headers_seen[0]
        self.assertEqual(h.get("X-Prometheus-Refresh-Interval-Seconds"), "1")
        self.assertEqual(h.get("Accept"), "application/json")

        # Added and relabelled.
        self.set_groups([{"targets": [self.a], "labels": {"team": "b"}},
                         {"targets": [self.b], "labels": {"__meta_x": "y"}}])
        ts = wait_for(lambda: len(self.targets()) == 2 and
                      self.targets()[self.a]["labels"].get("team") == "b" and self.targets())
        self.assertEqual(ts[self.b]["discoveredLabels"]["__meta_x"], "y")
        self.assertEqual(ts[self.b]["discoveredLabels"]["__meta_url"], self.url)
        self.assertNotIn("__meta_x", ts[self.b]["labels"])
        wait_for(lambda: self.up().get(self.b) == "1")

        # Removed.
        self.set_groups([{"targets": [self.b]}])
        wait_for(lambda: list(self.targets()) == [self.b])

        # A failing endpoint keeps the last targets and is counted.
        before = self.v.metric("prometheus_sd_http_failures_total")
        self.assertIsNotNone(before)
        SDServer.status = 500
        wait_for(lambda: self.v.metric("prometheus_sd_http_failures_total") >= before + 2)
        SDServer.status, SDServer.content_type = 200, "text/plain"
        n = self.v.metric("prometheus_sd_http_failures_total")
        wait_for(lambda: self.v.metric("prometheus_sd_http_failures_total") >= n + 1)
        SDServer.content_type, SDServer.body = "application/json", b"{not json"
        n = self.v.metric("prometheus_sd_http_failures_total")
        wait_for(lambda: self.v.metric("prometheus_sd_http_failures_total") >= n + 1)
        self.assertEqual(list(self.targets()), [self.b])
        self.assertIn("Unable to refresh target groups", self.v.read_log())
        _, _, body = self.v.get("/metrics")
        self.assertIn(b'prometheus_sd_refresh_failures_total{mechanism="http"}', body)

        # Good again, with a charset.
        SDServer.content_type = "application/json; charset=utf-8"
        self.set_groups([{"targets": [self.a, self.b]}])
        wait_for(lambda: len(self.targets()) == 2)

    def test_reload_keeps_loops(self):
        wait_for(lambda: self.targets().get(self.a, {}).get("health") == "up")
        SDServer.delay = 3  # the reloaded discovery's first answer comes late
        with open(self.v.config_file, "a") as f:
            f.write("  - job_name: other\n    static_configs: [{targets: ['127.0.0.1:1']}]\n")
        self.v.signal(signal.SIGHUP)
        wait_for(lambda: active(self.v.port, "other"))
        t = self.targets().get(self.a)
        self.assertIsNotNone(t, "the target vanished across the reload")
        self.assertEqual(t["health"], "up", "the scrape loop restarted")


# ---- DNS ----

ZONE = {
    ("a.sd.test", 1): [socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.2")],
    ("aaaa.sd.test", 28): [socket.inet_pton(socket.AF_INET6, "::1")],
    ("_metrics._tcp.sd.test", 33): [("srv", 10, 5, 9100, "node1.sd.test"),
                                    ("srv", 10, 5, 9200, "node2.sd.test")],
    ("mx.sd.test", 15): [("mx", 10, "mail.sd.test")],
    ("ns.sd.test", 2): [("ns", "ns1.sd.test")],
    ("flaky.sd.test", 1): [socket.inet_aton("127.0.0.3")],
}


def dns_name(n):
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".") if p) + b"\x00"


class DNSHandler(socketserver.BaseRequestHandler):
    servfail = set()

    def handle(self):
        data, sock = self.request
        qid, _flags, qd = struct.unpack(">HHH", data[:6])
        i, labels = 12, []
        while data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode())
            i += 1 + data[i]
        qtype, _ = struct.unpack(">HH", data[i + 1:i + 5])
        question = data[12:i + 5]
        name = ".".join(labels).lower()
        rrs = ZONE.get((name, qtype))
        rcode = 0
        if name in self.servfail:
            rcode, rrs = 2, None
        elif rrs is None:
            rcode = 0 if any(k[0] == name for k in ZONE) else 3
        answers = b""
        for rr in rrs or []:
            if isinstance(rr, bytes):
                rdata = rr
            elif rr[0] == "srv":
                rdata = struct.pack(">HHH", rr[1], rr[2], rr[3]) + dns_name(rr[4])
            elif rr[0] == "mx":
                rdata = struct.pack(">H", rr[1]) + dns_name(rr[2])
            else:
                rdata = dns_name(rr[1])
            answers += b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 30, len(rdata)) + rdata
        hdr = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(rrs or []), 0, 0)
        sock.sendto(hdr + question + answers, self.client_address)


class DnsSDTest(unittest.TestCase):
    def test_record_types(self):
        dns = socketserver.ThreadingUDPServer(("127.0.0.1", 0), DNSHandler)
        threading.Thread(target=dns.serve_forever, daemon=True).start()
        os.environ["VIGIL_DNS_SD_NAMESERVER"] = "127.0.0.1:%d" % dns.server_address[1]
        cfg = ("global:\n  scrape_interval: 1m\n"
               "scrape_configs:\n"
               "  - job_name: dns\n"
               "    dns_sd_configs:\n"
               "      - {names: [a.sd.test, flaky.sd.test, missing.sd.test], type: A, port: 9100,"
               " refresh_interval: 1s}\n"
               "      - {names: [aaaa.sd.test], type: AAAA, port: 9101}\n"
               "      - {names: [_metrics._tcp.sd.test]}\n"
               "      - {names: [mx.sd.test], type: MX, port: 25}\n"
               "      - {names: [ns.sd.test], type: NS, port: 53}\n")
        v = Vigil(config_text=cfg)
        try:
            v.start()

            def disc():
                return sorted((t["discoveredLabels"] for t in active(v.port, "dns")),
                              key=lambda d: d["__address__"])
            got = wait_for(lambda: len(disc()) == 8 and disc())
            common = {"job": "dns", "__scheme__": "http", "__metrics_path__": "/metrics",
                      "__scrape_interval__": "1m", "__scrape_timeout__": "10s"}
            want = [
                {"__address__": "127.0.0.1:9100", "__meta_dns_name": "a.sd.test"},
                {"__address__": "127.0.0.2:9100", "__meta_dns_name": "a.sd.test"},
                {"__address__": "127.0.0.3:9100", "__meta_dns_name": "flaky.sd.test"},
                {"__address__": "[::1]:9101", "__meta_dns_name": "aaaa.sd.test"},
                {"__address__": "mail.sd.test:25", "__meta_dns_name": "mx.sd.test",
                 "__meta_dns_mx_record_target": "mail.sd.test."},
                {"__address__": "node1.sd.test:9100", "__meta_dns_name": "_metrics._tcp.sd.test",
                 "__meta_dns_srv_record_target": "node1.sd.test.",
                 "__meta_dns_srv_record_port": "9100"},
                {"__address__": "node2.sd.test:9200", "__meta_dns_name": "_metrics._tcp.sd.test",
                 "__meta_dns_srv_record_target": "node2.sd.test.",
                 "__meta_dns_srv_record_port": "9200"},
                {"__address__": "ns1.sd.test:53", "__meta_dns_name": "ns.sd.test",
                 "__meta_dns_ns_record_target": "ns1.sd.test."},
            ]
            self.assertEqual(got, [dict(w, **common) for w in want])
            lookups = v.metric("prometheus_sd_dns_lookups_total")
            self.assertGreaterEqual(lookups, 7)

            # flaky starts failing: its target stays, the failure is counted.
            DNSHandler.servfail.add("flaky.sd.test")
            wait_for(lambda: v.metric("prometheus_sd_dns_lookup_failures_total") >= 1)
            time.sleep(1.5)
            self.assertIn("127.0.0.3:9100", [d["__address__"] for d in disc()])
            self.assertIn("Error refreshing DNS targets", v.read_log())
            # ... and a changed zone shows on the next refresh.
            ZONE[("a.sd.test", 1)] = [socket.inet_aton("127.0.0.9")]
            wait_for(lambda: "127.0.0.9:9100" in [d["__address__"] for d in disc()])
            self.assertNotIn("127.0.0.1:9100", [d["__address__"] for d in disc()])
        finally:
            finish(self, v)
            del os.environ["VIGIL_DNS_SD_NAMESERVER"]
            DNSHandler.servfail.clear()
            dns.shutdown()
            dns.server_close()


# ---- Docker ----

C_NODE = "8dfc2a9c8c2f2d1e2bb3b3c67e4a8ee0e6e8c1b8b0c9a6dbd9b6ac1f7a5e0c01"
C_GRAF = "5d2a6a1e0d3b4f8a8f0b8b2b2f7e6c1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a02"
C_REDIS = "b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184"
C_HOST = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
C_SIDE = "aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44"
N_MON = "7f1f64e3a0cd2c9c4f64e3a0cd2c9c4f64e3a0cd2c9c4f64e3a0cd2c9c4fabcd"
N_BRIDGE = "e2b3d7c1a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1"
N_HOST = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"


def endpoint(nid, ip):
    return {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": nid,
            "EndpointID": "ep" + nid[:10], "Gateway": ip.rsplit(".", 1)[0] + ".1" if ip else "",
            "IPAddress": ip, "IPPrefixLen": 16 if ip else 0, "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None}


def container(cid, name, image, mode, nets, ports, labels):
    return {"Id": cid, "Names": [name] if name else [], "Image": image, "ImageID": "sha256:" + cid,
            "Command": "/entrypoint", "Created": 1700000000, "Ports": ports, "Labels": labels,
            "State": "running", "Status": "Up 2 hours", "HostConfig": {"NetworkMode": mode},
            "NetworkSettings": {"Networks": nets}, "Mounts": []}


CONTAINERS = [
    container(C_NODE, "/mon-node-exporter-1", "prom/node-exporter", "mon_default",
              {"mon_default": endpoint(N_MON, "172.20.0.2")},
              [{"IP": "0.0.0.0", "PrivatePort": 9100, "PublicPort": 9100, "Type": "tcp"}],
              {"com.docker.compose.project": "mon", "com.docker.compose.service": "node-exporter",
               "prometheus.io/scrape": "true"}),
    container(C_GRAF, "/mon-grafana-1", "grafana/grafana", "mon_default",
              {"mon_default": endpoint(N_MON, "172.20.0.3"),
               "bridge": endpoint(N_BRIDGE, "172.17.0.3")},
              [{"PrivatePort": 3000, "Type": "tcp"}, {"PrivatePort": 8125, "Type": "udp"}],
              {"com.docker.compose.project": "mon", "maintainer": "Grafana Labs"}),
    container(C_REDIS, "/redis", "redis:7", "bridge", {"bridge": endpoint(N_BRIDGE, "172.17.0.4")},
              [], {}),
    container(C_HOST, "/host-agent", "agent", "host", {"host": endpoint(N_HOST, "")}, [],
              {"role": "agent"}),
    container("ff" * 32, None, "nameless", "bridge", {"bridge": endpoint(N_BRIDGE, "172.17.0.9")},
              [], {}),
]
# A container sharing another's network namespace: Prometheus 3 follows it,
# 2.42 does not, so it is served only to Vigil's second job.
SIDECAR = container(C_SIDE, "/redis-sidecar", "exporter", "container:" + C_REDIS, {}, [], {})

NETWORKS = [
    {"Name": "bridge", "Id": N_BRIDGE, "Created": "2024-01-01T00:00:00Z", "Scope": "local",
     "Driver": "bridge", "EnableIPv6": False, "Internal": False, "Attachable": False,
     "Ingress": False, "Options": {"com.docker.network.bridge.default_bridge": "true"},
     "Labels": {}},
    {"Name": "mon_default", "Id": N_MON, "Created": "2024-01-01T00:00:00Z", "Scope": "local",
     "Driver": "bridge", "EnableIPv6": False, "Internal": False, "Attachable": True,
     "Ingress": False, "Options": {},
     "Labels": {"com.docker.compose.network": "default", "com.docker.compose.project": "mon"}},
    {"Name": "host", "Id": N_HOST, "Created": "2024-01-01T00:00:00Z", "Scope": "local",
     "Driver": "host", "EnableIPv6": False, "Internal": False, "Attachable": False,
     "Ingress": False, "Options": {}, "Labels": {}},
]


class DockerAPI(http.server.BaseHTTPRequestHandler):
    """Docker Engine API subset, version prefix (/v1.40/...) optional."""
    requests = []

    def address_string(self):
        return "unix"

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        if path.startswith("/v1.") and "/" in path[1:]:
            path = path[path.index("/", 1):]
        type(self).requests.append((path, urllib.parse.parse_qs(u.query)))
        if path == "/_ping":
            body = b"OK"
        elif path == "/containers/json":
            with_side = "sidecar" in urllib.parse.parse_qs(u.query).get("filters", [""])[0]
            body = json.dumps(CONTAINERS + ([SIDECAR] if with_side else [])).encode()
        elif path == "/networks":
            body = json.dumps(NETWORKS).encode()
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Api-Version", "1.40")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *a):
        pass


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def docker_cfg(sock, extra=""):
    return ("global:\n  scrape_interval: 1m\n"
            "scrape_configs:\n"
            "  - job_name: docker\n"
            "    docker_sd_configs:\n"
            "      - host: unix://%s\n"
            "        refresh_interval: 2s\n"
            "        filters: [{name: label, values: ['com.docker.compose.project=mon', x]},"
            " {name: status, values: [running]}]\n%s" % (sock, extra))


class DockerSDTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-docker-")
        self.sock = os.path.join(self.tmp, "docker.sock")
        DockerAPI.requests = []
        self.api = UnixHTTPServer(self.sock, DockerAPI)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def tearDown(self):
        self.api.shutdown()
        self.api.server_close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def discovered(self, port, pool):
        return sorted((t["discoveredLabels"] for t in active(port, pool)),
                      key=lambda d: json.dumps(d, sort_keys=True))

    def test_docker_labels(self):
        cfg = docker_cfg(self.sock, "        match_first_network: false\n"
                         "  - job_name: docker_first\n"
                         "    docker_sd_configs:\n"
                         "      - host: unix://%s\n"
                         "        port: 9999\n"
                         "        host_networking_host: 10.0.0.1\n"
                         "        filters: [{name: name, values: [sidecar]}]\n"
                         "    relabel_configs:\n"
                         "      - {source_labels: [__meta_docker_container_name],"
                         " target_label: container}\n" % self.sock)
        v = Vigil(config_text=cfg, tmpdir=tempfile.mkdtemp(prefix="vigil-e2e-")).start()
        try:
            got = wait_for(lambda: len(active(v.port, "docker")) == 5 and
                           len(active(v.port, "docker_first")) == 5 and
                           self.discovered(v.port, "docker"))
            by_addr = {d["__address__"]: d for d in got}
            self.assertEqual(sorted(by_addr), ["172.17.0.3:3000", "172.17.0.4:80",
                                               "172.20.0.2:9100", "172.20.0.3:3000", "localhost"])
            node = by_addr["172.20.0.2:9100"]
            for k, want in [("__meta_docker_container_id", C_NODE),
                            ("__meta_docker_container_name", "/mon-node-exporter-1"),
                            ("__meta_docker_container_network_mode", "mon_default"),
                            ("__meta_docker_container_label_prometheus_io_scrape", "true"),
                            ("__meta_docker_container_label_com_docker_compose_project", "mon"),
                            ("__meta_docker_network_id", N_MON),
                            ("__meta_docker_network_name", "mon_default"),
                            ("__meta_docker_network_scope", "local"),
                            ("__meta_docker_network_internal", "false"),
                            ("__meta_docker_network_ingress", "false"),
                            ("__meta_docker_network_label_com_docker_compose_network", "default"),
                            ("__meta_docker_network_ip", "172.20.0.2"),
                            ("__meta_docker_port_private", "9100"),
                            ("__meta_docker_port_public", "9100"),
                            ("__meta_docker_port_public_ip", "0.0.0.0")]:
                self.assertEqual(node.get(k), want, k)
            self.assertNotIn("__meta_docker_port_public", by_addr["172.20.0.3:3000"])
            self.assertEqual(by_addr["localhost"]["__meta_docker_container_name"], "/host-agent")
            # The filters, as the Docker client encodes them.
            q = [r[1] for r in DockerAPI.requests if r[0] == "/containers/json"][0]
            self.assertEqual(json.loads(q["filters"][0]),
                             {"label": {"com.docker.compose.project=mon": True, "x": True},
                              "status": {"running": True}})
            # match_first_network (default): grafana on "bridge" only; the
            # sidecar borrows redis's network; host networking host and port.
            first = {d["__address__"]: d for d in self.discovered(v.port, "docker_first")}
            self.assertEqual(sorted(first), ["10.0.0.1", "172.17.0.3:3000", "172.17.0.4:9999",
                                             "172.20.0.2:9100"])  # redis and its sidecar
            side = [d for d in self.discovered(v.port, "docker_first")
                    if d["__meta_docker_container_name"] == "/redis-sidecar"]
            self.assertEqual(len(side), 1)
            self.assertEqual(side[0]["__meta_docker_network_ip"], "172.17.0.4")
            self.assertEqual(side[0]["__meta_docker_container_network_mode"],
                             "container:" + C_REDIS)

            # The API going away keeps the targets.
            self.api.shutdown()
            self.api.server_close()
            os.unlink(self.sock)
            wait_for(lambda: "error while listing containers" in v.read_log(), timeout=10)
            self.assertEqual(len(active(v.port, "docker")), 5)
        finally:
            finish(self, v)

    @unittest.skipUnless(shutil.which("prometheus"), "prometheus needed")
    def test_same_labels_as_prometheus(self):
        SDServer.status, SDServer.content_type, SDServer.delay = 200, "application/json", 0.0
        SDServer.body = json.dumps([
            {"targets": ["10.1.0.1:9100", "10.1.0.2:9100"], "labels": {"env": "prod", "__meta_rack": "r1"}},
            {"targets": ["10.1.0.3:8080"]},
            {"targets": [], "labels": {"empty": "group"}},
            {"targets": ["10.1.0.4:80"], "labels": {"__address__": "ignored:1", "__metrics_path__": "/m"}},
        ]).encode()
        sd = serve(SDServer)
        self.addCleanup(lambda: (sd.shutdown(), sd.server_close()))
        http_job = ("  - job_name: http\n"
                    "    http_sd_configs: [{url: 'http://127.0.0.1:%d/sd', refresh_interval: 2s}]\n"
                    % sd.server_address[1])
        cfg = docker_cfg(self.sock, http_job)
        v = Vigil(config_text=docker_cfg(self.sock, "        match_first_network: false\n" + http_job),
                  tmpdir=tempfile.mkdtemp(prefix="vigil-e2e-")).start()
        pport = free_port()
        with open(os.path.join(self.tmp, "p.yml"), "w") as f:
            f.write(cfg)
        p = subprocess.Popen(["prometheus", "--config.file=" + os.path.join(self.tmp, "p.yml"),
                              "--web.listen-address=127.0.0.1:%d" % pport,
                              "--storage.tsdb.path=" + os.path.join(self.tmp, "pdata")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def prom_targets():
                try:
                    return len(active(pport, "docker")) == 5
                except OSError:
                    return False
            wait_for(prom_targets, timeout=30)
            wait_for(lambda: len(active(v.port, "docker")) == 5)

            ps = self.discovered(pport, "docker")
            vs = self.discovered(v.port, "docker")
            self.assertEqual(vs, ps)
            wait_for(lambda: len(active(pport, "http")) == 4 and len(active(v.port, "http")) == 4)
            self.assertEqual(self.discovered(v.port, "http"), self.discovered(pport, "http"))
            self.assertEqual(sorted((t["labels"] for t in active(v.port, "http")), key=str),
                             sorted((t["labels"] for t in active(pport, "http")), key=str))
            pf = [r[1] for r in DockerAPI.requests if r[0] == "/containers/json"]
            self.assertEqual(len({json.dumps(json.loads(q["filters"][0]), sort_keys=True)
                                  for q in pf}), 1, "both send the same filters")
        finally:
            p.terminate()
            p.wait()
            finish(self, v)


if __name__ == "__main__":
    main()
