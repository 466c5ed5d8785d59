"""`vigil tsdb import | dump | stats` on real files.

Import then dump must give back exactly the samples imported (values bit for
bit as text, timestamps to the millisecond); malformed input fails with the
line and the reason and leaves nothing half-imported in a new directory;
import refuses a directory a running server holds.
"""
import os
import random
import shutil
import subprocess
import tempfile
import unittest

from vigil_e2e import VIGIL_BIN, Vigil, main


def vigil(*args, stdin=None):
    p = subprocess.run([VIGIL_BIN] + list(args), capture_output=True, input=stdin)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class TsdbToolsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-tools-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dataset(self):
        rnd = random.Random(7)
        samples = {}
        lines = []
        for s in range(30):
            name = 'm%d{i="%d",job="j"}' % (s % 3, s)
            t = 1_700_000_000_000 + s
            for k in range(rnd.randint(1, 700)):
                t += rnd.choice([15000, 15000, 15000, 14999, 30000])
                v = rnd.choice([float(k), rnd.random() * 1e6, 0.1 * k, 42.0])
                samples[(name, t)] = repr(v)
                lines.append((name, t, v))
        lines.sort(key=lambda x: (x[0].split("{")[0], x[0], x[1]))
        text = "".join("%s %r %d.%03d\n" % (n, v, t // 1000, t % 1000) for n, t, v in lines)
        return text + "# EOF\n", samples

    def test_import_dump_roundtrip(self):
        text, samples = self.dataset()
        path = os.path.join(self.tmp, "in.om")
        with open(path, "w") as f:
            f.write(text)
        data = os.path.join(self.tmp, "data")
        code, out, err = vigil("tsdb", "import", "--storage.tsdb.path=" + data, path)
        self.assertEqual(code, 0, err)
        self.assertIn("imported %d samples, 30 new series" % len(samples), err)
        self.assertFalse(os.path.exists(os.path.join(data, "snapshots")))
        code, out, err = vigil("tsdb", "dump", data)
        self.assertEqual(code, 0, err)
        got = {}
        for line in out.splitlines():
            if line == "# EOF":
                continue
            series, value, ts = line.rsplit(" ", 2)
            sec, ms = ts.split(".")
            got[(series, int(sec) * 1000 + int(ms))] = value
        self.assertEqual(len(got), len(samples))
        for k, v in samples.items():
            self.assertIn(k, got)
            self.assertEqual(float(got[k]), float(v), k)
        code, out, err = vigil("tsdb", "dump", data, '--match=m1{i=~"1|4"}')
        self.assertEqual(code, 0, err)
        dumped = {l.rsplit(" ", 2)[0] for l in out.splitlines() if l != "# EOF"}
        self.assertEqual(dumped, {'m1{i="1",job="j"}', 'm1{i="4",job="j"}'})
        code, _, err = vigil("tsdb", "dump", data, "--match=m1{")
        self.assertEqual(code, 2)
        self.assertIn("--match: 1:4: parse error", err)
        code, out, err = vigil("tsdb", "stats", data)
        self.assertEqual(code, 0, err)
        self.assertIn("Series:          30", out)

    def test_import_from_stdin_and_twice(self):
        text, samples = self.dataset()
        data = os.path.join(self.tmp, "data")
        code, _, err = vigil("tsdb", "import", "--storage.tsdb.path=" + data, "-", stdin=text.encode())
        self.assertEqual(code, 0, err)
        # The same data again: every sample is a duplicate, nothing changes.
        code, _, err = vigil("tsdb", "import", "--storage.tsdb.path=" + data, "-", stdin=text.encode())
        self.assertEqual(code, 0, err)
        self.assertIn("imported 0 samples", err)

    def test_malformed_input(self):
        data = os.path.join(self.tmp, "data")
        bad = 'a{x="1"} 1 1700000000\nb{x="1} 2 1700000000\n# EOF\n'
        code, _, err = vigil("tsdb", "import", "--storage.tsdb.path=" + data, "-", stdin=bad.encode())
        self.assertEqual(code, 1)
        self.assertIn("line 2", err)
        no_ts = 'a 1\n# EOF\n'
        code, _, err = vigil("tsdb", "import", "--storage.tsdb.path=" + data, "-", stdin=no_ts.encode())
        self.assertEqual(code, 1)
        self.assertIn("line 1: sample without a timestamp", err)
        code, _, err = vigil("tsdb", "import", "--storage.tsdb.path=" + data, "/no/such/file")
        self.assertEqual(code, 1)
        self.assertIn("/no/such/file", err)

    def test_refuses_a_live_data_dir(self):
        v = Vigil(tmpdir=self.tmp).start()
        try:
            code, _, err = vigil("tsdb", "import", "--storage.tsdb.path=" + v.data, "-",
                                 stdin=b"# EOF\n")
            self.assertEqual(code, 1)
            self.assertIn("held by another process", err)
        finally:
            v.stop()

    def test_usage(self):
        self.assertEqual(vigil("tsdb")[0], 2)
        self.assertEqual(vigil("tsdb", "import")[0], 2)


if __name__ == "__main__":
    main()
