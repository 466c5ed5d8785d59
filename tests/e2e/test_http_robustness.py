"""HTTP robustness of the real server, over raw sockets.

Issue 3's list: a malformed request line, a header block over 64 KiB, a body
over the limit, a client that never finishes its headers, 1,000 keep-alive
requests on one connection, 200 concurrent connections, pipelining, gzip.
After each abuse the server must still answer /-/healthy.
"""
import gzip
import socket
import threading
import time
import unittest

from vigil_e2e import Vigil, main


class Conn:
    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def response(self):
        # Serve leftovers of a pipelined read first.
        buf = self.buf
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None, {}, buf
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict((l.split(":", 1)[0].strip().lower(), l.split(":", 1)[1].strip()) for l in lines[1:])
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.buf = rest[n:]
        return status, headers, rest[:n]

    def closed_by_peer(self, wait=5):
        self.s.settimeout(wait)
        try:
            while True:
                if not self.s.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


class RobustnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vigil(extra_args=["--web.read-timeout=2s", "--web.max-connections=1000"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def tearDown(self):
        status, _, _ = self.v.get("/-/healthy")
        self.assertEqual(status, 200, "server must stay up")

    def conn(self):
        return Conn(self.v.port)

    def test_malformed_request_line(self):
        c = self.conn()
        c.send(b"THIS IS NOT HTTP\r\n\r\n")
        status, _, _ = c.response()
        self.assertEqual(status, 400)
        self.assertTrue(c.closed_by_peer())
        c.close()

    def test_header_block_over_64k(self):
        c = self.conn()
        c.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        status, _, _ = c.response()
        self.assertEqual(status, 431)
        c.close()

    def test_body_over_limit(self):
        c = self.conn()
        c.send(b"POST /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        status, _, _ = c.response()
        self.assertEqual(status, 413)
        c.close()

    def test_never_finished_headers(self):
        c = self.conn()
        c.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")
        t0 = time.time()
        status, _, _ = c.response()
        self.assertIn(status, (408, None))
        self.assertLess(time.time() - t0, 15)
        self.assertTrue(c.closed_by_peer())
        c.close()

    def test_slow_trickle_does_not_extend_header_deadline(self):
        c = self.conn()
        t0 = time.time()
        c.send(b"GET /-/healthy HTTP/1.1\r\n")
        closed = False
        for _ in range(40):
            try:
                c.send(b"X-A: b\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.25)
        self.assertTrue(closed or c.closed_by_peer(1))
        self.assertLess(time.time() - t0, 12)
        c.close()

    def test_1000_keepalive_requests(self):
        c = self.conn()
        for i in range(1000):
            c.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = c.response()
            self.assertEqual(status, 200, i)
            self.assertEqual(body, b"Prometheus Server is Healthy.\n")
        c.close()

    def test_pipelined_requests_in_order(self):
        c = self.conn()
        c.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.response()[0], 200)
        self.assertEqual(c.response()[0], 404)
        status, _, body = c.response()
        self.assertEqual((status, body), (200, b"Prometheus Server is Ready.\n"))
        c.close()

    def test_200_concurrent_connections(self):
        conns = [self.conn() for _ in range(200)]
        for c in conns:
            c.send(b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        results = [c.response()[0] for c in conns]
        for c in conns:
            c.close()
        self.assertEqual(results, [200] * 200)

    def test_concurrent_clients_threads(self):
        errors = []

        def worker():
            try:
                for _ in range(20):
                    status, _, _ = self.v.get("/metrics")
                    if status != 200:
                        errors.append(status)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        ts = [threading.Thread(target=worker) for _ in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])

    def test_gzip_metrics(self):
        status, hdrs, body = self.v.get("/metrics", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("content-encoding"), "gzip")
        self.assertIn(b"process_cpu_seconds_total", gzip.decompress(body))

    def test_connection_close_honoured(self):
        c = self.conn()
        c.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(c.response()[0], 200)
        self.assertTrue(c.closed_by_peer())
        c.close()

    def test_post_form_body_accepted(self):
        status, _, _ = self.v.request("POST", "/-/healthy", body=b"a=b&c=%20d",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)

    def test_idle_keepalive_closed(self):
        c = self.conn()
        c.send(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.response()[0], 200)
        self.assertTrue(c.closed_by_peer(wait=10))
        c.close()


if __name__ == "__main__":
    main()
