"""`vigil check config` against the reference tools.

Every config file we have is checked by Vigil and by promtool (or amtool for
alertmanager.yml files); the verdicts (valid or not) must agree.  Broken
configs must fail with a message that names file:line:col and the field.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from vigil_e2e import SHARED, VIGIL_SRC, run_vigil, main

BROKEN = {
    # name: (prometheus.yml text, regex the message must match)
    "bad_duration": ("global:\n  scrape_interval: 15x\n",
                     r'bad_duration\.yml:2:20: global\.scrape_interval: "15x" is not a valid duration'),
    "unknown_field": ("global:\n  scrape_interval: 15s\n  scrape_intervall: 15s\n",
                      r'unknown_field\.yml:3:3: global: unknown field "scrape_intervall"'),
    "wrong_type": ("scrape_configs:\n  - job_name: [a, b]\n",
                   r'wrong_type\.yml:2:15: scrape_configs\[0\]\.job_name: expected a string'),
    "bad_regex": ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [x]\n        regex: 'a(b'\n        target_label: y\n",
                  r'bad_regex\.yml:5:16: scrape_configs\[0\]\.relabel_configs\[0\]\.regex: '),
    "duplicate_job": ("scrape_configs:\n  - job_name: a\n  - job_name: a\n",
                      r'duplicate_job\.yml:3:\d+: .*found multiple scrape configs with job name "a"'),
    "broken_yaml": ("global:\n  scrape_interval: [15s\n",
                    r'broken_yaml\.yml:\d+:\d+: yaml: '),
    "missing_rule_file": ("rule_files:\n  - does-not-exist.yml\n",
                          r'missing_rule_file\.yml:2:5: rule_files\[0\]: missing rule file: .*does-not-exist\.yml'),
}


def promtool_ok(path):
    p = subprocess.run(["promtool", "check", "config", path],
                       capture_output=True)
    return p.returncode == 0


def amtool_ok(path):
    p = subprocess.run(["amtool", "check-config", path], capture_output=True)
    return p.returncode == 0


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-check-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_shipped_config_valid(self):
        for f in ("conf/prometheus.yml", "conf/alertmanager.yml"):
            code, out, err = run_vigil("check", "config", os.path.join(VIGIL_SRC, f))
            self.assertEqual(code, 0, out + err)
            self.assertIn("SUCCESS", out)

    def test_seedstack_fixture(self):
        path = os.path.join(SHARED, "fixtures", "seedstack", "prometheus.yml")
        if not os.path.exists(path):
            self.skipTest("shared fixtures not present")
        code, out, err = run_vigil("check", "config", path)
        self.assertEqual(code, 0, out + err)
        self.assertIn("SUCCESS: 5 rule files found", out)
        for n in ("17", "27", "15", "9", "7"):
            self.assertIn("SUCCESS: %s rules found" % n, out)
        am = os.path.join(SHARED, "fixtures", "seedstack", "alertmanager.yml")
        code, out, err = run_vigil("check", "config", am)
        self.assertEqual(code, 0, out + err)
        self.assertIn("SUCCESS", out)

    def test_broken_configs_name_the_place(self):
        for name, (text, pattern) in BROKEN.items():
            path = os.path.join(self.tmp, name + ".yml")
            with open(path, "w") as f:
                f.write(text)
            code, out, err = run_vigil("check", "config", path)
            self.assertEqual(code, 1, name + ": " + out + err)
            self.assertRegex(out, pattern, name)
            if shutil.which("promtool"):
                self.assertFalse(promtool_ok(path), name + ": promtool accepts it")

    def test_verdicts_agree_with_promtool(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool not installed")
        files = sorted(glob.glob(os.path.join(VIGIL_SRC, "tests", "unit", "data", "conf", "*valid_*.yml")))
        files.append(os.path.join(VIGIL_SRC, "conf", "prometheus.yml"))
        fixture = os.path.join(SHARED, "fixtures", "seedstack", "prometheus.yml")
        if os.path.exists(fixture):
            files.append(fixture)
        self.assertGreater(len(files), 5)
        for path in files:
            code, out, err = run_vigil("check", "config", path)
            self.assertEqual(code == 0, promtool_ok(path), "%s: vigil says %d:\n%s%s" % (path, code, out, err))

    def test_verdicts_agree_with_amtool(self):
        if not shutil.which("amtool"):
            self.skipTest("amtool not installed")
        files = sorted(glob.glob(os.path.join(VIGIL_SRC, "tests", "unit", "data", "am", "*.yml")))
        files.append(os.path.join(VIGIL_SRC, "conf", "alertmanager.yml"))
        fixture = os.path.join(SHARED, "fixtures", "seedstack", "alertmanager.yml")
        if os.path.exists(fixture):
            files.append(fixture)
        self.assertGreater(len(files), 3)
        for path in files:
            if not re.search(r"(valid|invalid)_|alertmanager\.yml$", os.path.basename(path)):
                continue
            code, out, err = run_vigil("check", "config", path)
            self.assertEqual(code == 0, amtool_ok(path), "%s: vigil says %d:\n%s%s" % (path, code, out, err))

    def test_rule_files_agree_with_promtool(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool not installed")
        cases = {
            "bad_expr": ("groups:\n  - name: g\n    rules:\n      - alert: A\n"
                         "        expr: sum(rate(x[5m]) by (job)\n",
                         r"bad_expr\.yml:5:15: groups\[0\]\.rules\[0\]\.expr: could not parse "
                         r"expression: 1:17: parse error: unexpected <by> in aggregation"),
            "bad_type": ("groups:\n  - name: g\n    rules:\n      - record: r\n"
                         "        expr: rate(x)\n",
                         r"bad_type\.yml:5:15: .*expected type range vector in call to function "
                         r"\"rate\", got instant vector"),
            "unknown_fn": ("groups:\n  - name: g\n    rules:\n      - record: r\n"
                           "        expr: nosuch(x)\n",
                           r'unknown function with name "nosuch"'),
            "good": ("groups:\n  - name: g\n    rules:\n      - record: job:x:rate5m\n"
                     "        expr: sum by (job) (rate(x[5m]))\n", None),
        }
        for name, (text, pattern) in cases.items():
            path = os.path.join(self.tmp, name + ".yml")
            with open(path, "w") as f:
                f.write(text)
            code, out, err = run_vigil("check", "rules", path)
            p = subprocess.run(["promtool", "check", "rules", path], capture_output=True)
            self.assertEqual(code == 0, p.returncode == 0, name + ": " + out + err)
            if pattern:
                self.assertEqual(code, 1, name)
                self.assertRegex(out, pattern, name)
        rules = sorted(glob.glob(os.path.join(SHARED, "fixtures", "seedstack", "rules", "*.yml")))
        for path in rules:
            code, out, err = run_vigil("check", "rules", path)
            self.assertEqual(code, 0, path + ": " + out + err)

    def test_usage_error(self):
        code, _, _ = run_vigil("check", "config")
        self.assertEqual(code, 2)


if __name__ == "__main__":
    main()
