"""`vigil test rules` against the Debian `promtool test rules` (2.42): the
same test files must get the same verdict and exit status, and a broken
expectation must fail both tools on the same alerts and expressions.

Files: the seedstack fixture's rules_test.yml (58 alerting and 17 recording
rules, unchanged) and tests/e2e/rules/*.test.yml, which cover recording
chains, for, keep_firing_for, staleness markers, the expanding notation,
external labels and URL, and every template function that 2.42 knows.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from vigil_e2e import SHARED, VIGIL_BIN, VIGIL_SRC

PROMTOOL = shutil.which("promtool")
RULES_DIR = os.path.join(VIGIL_SRC, "tests", "e2e", "rules")
SEEDSTACK = os.path.join(SHARED, "fixtures", "seedstack")


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def failing_items(stderr):
    """What a failure report names: alertname/time and expr/time pairs."""
    return sorted(set(re.findall(r"(alertname: \S+, time: \S+|expr: .*?, time: [^,\s]+)",
                                 stderr)))


class RulesUnitTest(unittest.TestCase):
    def both(self, testfile, cwd):
        vig = run([VIGIL_BIN, "test", "rules", testfile], cwd)
        ref = run([PROMTOOL, "test", "rules", testfile], cwd) if PROMTOOL else None
        return vig, ref

    def assert_same(self, testfile, cwd, expect_rc):
        vig, ref = self.both(testfile, cwd)
        self.assertEqual(vig[0], expect_rc, "vigil:\n%s\n%s" % (vig[1], vig[2]))
        if ref is not None:
            self.assertEqual(ref[0], expect_rc, "promtool:\n%s\n%s" % (ref[1], ref[2]))
            self.assertEqual(failing_items(vig[2]), failing_items(ref[2]),
                             "vigil:\n%s\npromtool:\n%s" % (vig[2], ref[2]))
            self.assertEqual(vig[1], ref[1])  # "Unit Testing:  f" / "  SUCCESS"
        return vig

    def test_seedstack_passes(self):
        if not os.path.isdir(SEEDSTACK):
            self.skipTest("shared fixtures not present")
        self.assert_same("rules_test.yml", SEEDSTACK, 0)

    def test_feature_files_pass(self):
        for name in ("features.test.yml", "templates.test.yml"):
            with self.subTest(name):
                self.assert_same(name, RULES_DIR, 0)

    def copy_dir(self, src):
        tmp = tempfile.mkdtemp(prefix="vigil-ruletest-")
        dst = os.path.join(tmp, "d")
        shutil.copytree(src, dst)
        self.addCleanup(shutil.rmtree, tmp, True)
        return dst

    def test_wrong_expectations_fail_alike(self):
        d = self.copy_dir(RULES_DIR)
        path = os.path.join(d, "features.test.yml")
        with open(path) as f:
            text = f.read()
        # A wrong label, a wrong annotation, a wrong sample value, a missing alert.
        text = text.replace("severity: page", "severity: ticket", 1)
        text = text.replace('printf: "12.00"', 'printf: "12.0"', 1)
        text = text.replace("value: 6\n", "value: 7\n", 1)
        text = text.replace("      - eval_time: 8m\n        alertname: InstanceDown\n"
                            "        exp_alerts: []",
                            "      - eval_time: 8m\n        alertname: InstanceDown\n"
                            "        exp_alerts:\n          - exp_labels: {job: api}")
        with open(path, "w") as f:
            f.write(text)
        vig = self.assert_same("features.test.yml", d, 1)
        self.assertIn("  FAILED:", vig[2])
        self.assertEqual(len(failing_items(vig[2])), 4, vig[2])

    def test_seedstack_wrong_expectation(self):
        if not os.path.isdir(SEEDSTACK):
            self.skipTest("shared fixtures not present")
        d = self.copy_dir(SEEDSTACK)
        path = os.path.join(d, "rules_test.yml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("severity: critical", "severity: minor", 1))
        self.assert_same("rules_test.yml", d, 1)

    def test_missing_alertname_and_bad_file(self):
        d = tempfile.mkdtemp(prefix="vigil-ruletest-")
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copy(os.path.join(RULES_DIR, "features.rules.yml"), d)
        with open(os.path.join(d, "t.yml"), "w") as f:
            f.write("rule_files: [features.rules.yml]\ntests:\n  - interval: 1m\n"
                    "    alert_rule_test:\n      - eval_time: 1m\n        exp_alerts: []\n")
        vig = self.assert_same("t.yml", d, 1)
        self.assertIn("misses required attribute alertname", vig[2])
        with open(os.path.join(d, "u.yml"), "w") as f:
            f.write("rule_files: [features.rules.yml]\nbogus_field: 1\n")
        vig, ref = self.both("u.yml", d)
        self.assertEqual(vig[0], 1)
        if ref is not None:
            self.assertEqual(ref[0], 1)

    def test_usage(self):
        p = subprocess.run([VIGIL_BIN, "test"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage", p.stderr)


if __name__ == "__main__":
    unittest.main()
