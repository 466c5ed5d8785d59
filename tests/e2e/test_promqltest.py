"""`vigil promqltest` over Prometheus's own PromQL test scripts and ours.

Runs every .test file of shared/promql-tests through the real binary and
asserts per-file floors of passed eval blocks (what the evaluator achieves
now), so that a regression fails.  Blocks reading native histograms are
reported as skipped by the runner.  Skipped when the scripts are absent.

Vigil's own scripts in tests/promql (same language, written for Vigil:
regression tests for semantics found missing) must pass completely.
"""
import glob
import os
import re
import subprocess
import tempfile
import unittest

from vigil_e2e import VIGIL_BIN, main

TESTS = os.path.join(os.environ.get("VIGIL_SRC", "."), "..", "shared", "promql-tests")
OWN = os.path.join(os.environ.get("VIGIL_SRC", "."), "tests", "promql")

# file: minimum passed eval blocks
FLOORS = {
    "aggregators.test": 86,
    "at_modifier.test": 55,
    "collision.test": 1,
    "duration_expression.test": 41,
    "extended_vectors.test": 84,
    "fill-modifier.test": 32,
    "functions.test": 225,
    "histograms.test": 61,
    "info.test": 36,
    "limit.test": 1,
    "literals.test": 17,
    "name_label_dropping.test": 21,
    "native_histograms.test": 1,
    "operators.test": 101,
    "range_queries.test": 12,
    "selectors.test": 22,
    "staleness.test": 12,
    "start_timestamps.test": 10,
    "subquery.test": 23,
    "trig_functions.test": 13,
    "type_and_unit.test": 41,
}


class PromqlTest(unittest.TestCase):
    def test_conformance_floors(self):
        files = sorted(glob.glob(os.path.join(TESTS, "*.test")))
        if not files:
            self.skipTest("no PromQL test scripts at " + TESTS)
        total = [0, 0, 0]
        for path in files:
            name = os.path.basename(path)
            p = subprocess.run([VIGIL_BIN, "promqltest", path], capture_output=True,
                               timeout=300, text=True)
            lines = p.stdout.strip().splitlines()
            self.assertTrue(lines, name + ": no output; stderr: " + p.stderr)
            m = re.fullmatch(r"(\d+) passed, (\d+) failed, (\d+) skipped", lines[-1])
            self.assertIsNotNone(m, name + ": bad last line " + lines[-1])
            passed, failed, skipped = int(m.group(1)), int(m.group(2)), int(m.group(3))
            fails = len(re.findall(r"^FAIL ", p.stdout, re.M))
            skips = len(re.findall(r"^SKIP ", p.stdout, re.M))
            self.assertEqual((fails, skips), (failed, skipped), name + ": FAIL/SKIP lines vs counts")
            print("%-26s %4d passed %4d failed %4d skipped" % (name, passed, failed, skipped))
            total[0] += passed
            total[1] += failed
            total[2] += skipped
            self.assertEqual(p.returncode, 0 if failed == 0 else 1, name)
            self.assertGreaterEqual(passed, FLOORS.get(name, 0), name + " regressed:\n" + p.stdout[-3000:])
        print("%-26s %4d passed %4d failed %4d skipped" % ("total", *total))

    def test_own_scripts(self):
        files = sorted(glob.glob(os.path.join(OWN, "*.test")))
        self.assertTrue(files, "no scripts in " + OWN)
        for path in files:
            p = subprocess.run([VIGIL_BIN, "promqltest", path], capture_output=True,
                               timeout=300, text=True)
            last = p.stdout.strip().splitlines()[-1:] or [""]
            m = re.fullmatch(r"(\d+) passed, 0 failed, 0 skipped", last[0])
            self.assertIsNotNone(m, os.path.basename(path) + ":\n" + p.stdout[-3000:] + p.stderr)
            self.assertGreater(int(m.group(1)), 0, path)
            self.assertEqual(p.returncode, 0, path)

    def test_unparsable_file_fails_every_block(self):
        # A script the runner cannot parse fails all its eval blocks, the
        # ones before the bad line included; the last line counts them.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.test")
            with open(path, "w") as f:
                f.write("load 1m\n  x 1 2\n\neval instant at 1m x\n  x 2\n\n"
                        "no such command\n\neval instant at 1m x\n  x 2\n")
            p = subprocess.run([VIGIL_BIN, "promqltest", path], capture_output=True,
                               timeout=60, text=True)
            lines = p.stdout.strip().splitlines()
            self.assertEqual(lines[-1], "0 passed, 2 failed, 0 skipped", p.stdout)
            self.assertIn("FAIL %s:4:" % path, p.stdout)
            self.assertIn("FAIL %s:9:" % path, p.stdout)
            self.assertNotEqual(p.returncode, 0)
            # two files: each file's count, then the total as the last line
            good = os.path.join(d, "good.test")
            with open(good, "w") as f:
                f.write("load 1m\n  x 1 2\n\neval instant at 1m x\n  x 2\n")
            p = subprocess.run([VIGIL_BIN, "promqltest", good, path], capture_output=True,
                               timeout=60, text=True)
            self.assertEqual(p.stdout.strip().splitlines()[-1], "1 passed, 2 failed, 0 skipped")


if __name__ == "__main__":
    main()
