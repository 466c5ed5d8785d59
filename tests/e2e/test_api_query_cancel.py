"""A client that hangs up cancels its query: the worker stops between
evaluation steps instead of computing an answer nobody reads."""
import socket
import time
import unittest
import urllib.parse

from vigil_e2e import Vigil, main


class QueryCancelTest(unittest.TestCase):
    def test_disconnect_cancels_query(self):
        v = Vigil(extra_args=["--query.max-samples=1000000000000"]).start()
        try:
            body = urllib.parse.urlencode({"query": "sum_over_time(vector(1)[1d:1s])", "start": 0,
                                           "end": 6000000, "step": 600}).encode()
            s = socket.create_connection(("127.0.0.1", v.port))
            s.sendall(b"POST /api/v1/query_range HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            time.sleep(0.3)
            s.close()
            deadline = time.time() + 10
            while time.time() < deadline and v.metric("vigil_queries_canceled_total") != 1:
                time.sleep(0.1)
            self.assertEqual(v.metric("vigil_queries_canceled_total"), 1)
            status, _, _ = v.get("/api/v1/query?query=1%2B1")
            self.assertEqual(status, 200)
        finally:
            v.cleanup()


if __name__ == "__main__":
    main()
