"""Rules in the running server: groups evaluated on their interval,
/api/v1/rules and /api/v1/alerts in Prometheus's shapes, recording rule
output and ALERTS in storage, reload keeping alert state, broken rules
failing a reload, and for-state restore across a restart."""
import json
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

from vigil_e2e import Vigil, free_port

RULES = """groups:
  - name: main
    interval: 1s
    rules:
      - record: job:one:sum
        expr: sum(vector(1))
        labels:
          source: rule
      - alert: AlwaysFiring
        expr: vector(3) > 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "value is {{ $value }}"
      - alert: NeverFiring
        expr: vector(0) > 1
"""

CONFIG = """global:
  evaluation_interval: 1s
rule_files:
  - rules.yml
"""

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class RulesServer(unittest.TestCase):
    def start(self, extra=(), tmpdir=None, rules=RULES):
        v = Vigil(CONFIG, extra_args=list(extra), tmpdir=tmpdir)
        write(os.path.join(v.tmp, "rules.yml"), rules)
        v.start()
        return v

    def get_json(self, v, path):
        status, _, body = v.request("GET", path)
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        self.assertEqual(doc["status"], "success")
        return doc["data"]

    def wait_for(self, fn, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = fn()
            if got:
                return got
            time.sleep(0.2)
        self.fail("condition not reached in %ss" % timeout)

    def firing(self, v):
        alerts = self.get_json(v, "/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["state"] == "firing"]

    def test_rules_api_and_storage(self):
        v = self.start()
        try:
            fired = self.wait_for(lambda: self.firing(v))
            a = fired[0]
            self.assertEqual(a["labels"], {"alertname": "AlwaysFiring", "severity": "page"})
            self.assertEqual(a["annotations"], {"summary": "value is 3"})
            self.assertEqual(a["value"], "3e+00")
            self.assertRegex(a["activeAt"], RFC3339)

            groups = self.get_json(v, "/api/v1/rules")["groups"]
            self.assertEqual(len(groups), 1)
            g = groups[0]
            self.assertEqual(list(g.keys()), ["name", "file", "rules", "interval", "limit",
                                              "evaluationTime", "lastEvaluation"])
            self.assertEqual(g["name"], "main")
            self.assertTrue(g["file"].endswith("rules.yml"))
            self.assertEqual(g["interval"], 1)
            rec, alert, never = g["rules"]
            self.assertEqual(list(rec.keys()), ["name", "query", "labels", "health",
                                                "evaluationTime", "lastEvaluation", "type"])
            self.assertEqual(rec["type"], "recording")
            self.assertEqual(rec["health"], "ok")
            self.assertEqual(rec["query"], "sum(vector(1))")
            self.assertEqual(list(alert.keys()), ["state", "name", "query", "duration",
                                                  "keepFiringFor", "labels", "annotations",
                                                  "alerts", "health", "evaluationTime",
                                                  "lastEvaluation", "type"])
            self.assertEqual(alert["state"], "firing")
            self.assertEqual(alert["duration"], 2)
            self.assertEqual(alert["annotations"], {"summary": "value is {{ $value }}"})
            self.assertEqual(never["state"], "inactive")
            self.assertEqual(never["alerts"], [])
            self.assertRegex(g["lastEvaluation"], RFC3339)

            # Filters.
            only = self.get_json(v, "/api/v1/rules?type=record")["groups"][0]["rules"]
            self.assertEqual([r["name"] for r in only], ["job:one:sum"])
            named = self.get_json(v, "/api/v1/rules?rule_name[]=NeverFiring")["groups"]
            self.assertEqual([r["name"] for r in named[0]["rules"]], ["NeverFiring"])
            self.assertEqual(self.get_json(v, "/api/v1/rules?rule_group[]=nope")["groups"], [])
            ex = self.get_json(v, "/api/v1/rules?exclude_alerts=true")["groups"][0]["rules"][1]
            self.assertEqual(ex["alerts"], [])
            status, _, body = v.request("GET", "/api/v1/rules?type=bogus")
            self.assertEqual(status, 400, body)

            # What the rules wrote.
            q = urllib.parse.quote('job:one:sum{source="rule"}')
            res = self.get_json(v, "/api/v1/query?query=" + q)["result"]
            self.assertEqual(res[0]["value"][1], "1")
            q = urllib.parse.quote('ALERTS{alertname="AlwaysFiring",alertstate="firing"}')
            self.assertEqual(len(self.get_json(v, "/api/v1/query?query=" + q)["result"]), 1)
            q = urllib.parse.quote("ALERTS_FOR_STATE")
            res = self.get_json(v, "/api/v1/query?query=" + q)["result"]
            self.assertEqual(len(res), 1)

            am = self.get_json(v, "/api/v1/alertmanagers")
            self.assertEqual(am, {"activeAlertmanagers": [], "droppedAlertmanagers": []})

            # Self-metrics.
            text = v.request("GET", "/metrics")[2].decode()
            self.assertRegex(text, r'prometheus_rule_group_rules\{rule_group="[^"]*rules.yml;main"\} 3')
            self.assertIn("prometheus_rule_evaluations_total", text)
            self.assertIn("prometheus_rule_group_last_evaluation_timestamp_seconds", text)
            # A clean stop: exit 0 (under ASan, no leak report either).
            self.assertEqual(v.stop(), 0, v.read_log())
        finally:
            v.stop()

    def test_reload_keeps_state_and_rejects_broken_rules(self):
        v = self.start(extra=["--web.enable-lifecycle"])
        try:
            before = self.wait_for(lambda: self.firing(v))[0]["activeAt"]
            # A reload with an extra rule keeps the firing alert's state.
            write(os.path.join(v.tmp, "rules.yml"),
                  RULES + "      - record: extra\n        expr: vector(2)\n")
            status, _, body = v.request("POST", "/-/reload")
            self.assertEqual(status, 200, body)
            time.sleep(1.5)
            after = self.firing(v)
            self.assertEqual(after[0]["activeAt"], before)
            rules = self.get_json(v, "/api/v1/rules")["groups"][0]["rules"]
            self.assertEqual(len(rules), 4)
            # A broken rule file fails the reload and keeps the rules.
            write(os.path.join(v.tmp, "rules.yml"),
                  "groups:\n  - name: main\n    rules:\n      - record: x\n        expr: sum(\n")
            status, _, body = v.request("POST", "/-/reload")
            self.assertEqual(status, 500, body)
            self.assertEqual(len(self.get_json(v, "/api/v1/rules")["groups"][0]["rules"]), 4)
        finally:
            v.stop()

    def test_for_state_survives_restart(self):
        flags = ["--rules.alert.for-grace-period=1s"]
        v = self.start(extra=flags)
        tmp = v.tmp
        try:
            before = self.wait_for(lambda: self.firing(v))[0]["activeAt"]
            time.sleep(1.2)
        finally:
            v.stop()
        restarted = time.time()
        v = Vigil(CONFIG, extra_args=flags, tmpdir=tmp)
        v.start()
        try:
            fired = self.wait_for(lambda: self.firing(v))
            # ALERTS_FOR_STATE keeps whole seconds, as in Prometheus.
            self.assertEqual(fired[0]["activeAt"], re.sub(r"\.\d+Z$", "Z", before))
            # ALERTS was never written as pending after the restart.
            q = urllib.parse.quote('ALERTS{alertname="AlwaysFiring",alertstate="pending"}[30s]')
            res = self.get_json(v, "/api/v1/query?query=" + q)["result"]
            for series in res:
                for t, _ in series["values"]:
                    self.assertLess(t, restarted)
            self.assertEqual(v.stop(), 0, v.read_log())
        finally:
            v.stop()

    @unittest.skipUnless(shutil.which("prometheus"), "prometheus not installed")
    def test_evaluation_phase_matches_prometheus(self):
        # Same file and group name, same hash, same offset within the
        # interval: the two servers evaluate at the same instants.
        rules = ("groups:\n  - name: phase\n    interval: 3s\n    rules:\n"
                 "      - record: phase_probe\n        expr: vector(1)\n")
        v = self.start(rules=rules)
        port = free_port()
        prom = subprocess.Popen(["prometheus", "--config.file=" + v.config_file,
                                 "--web.listen-address=127.0.0.1:%d" % port,
                                 "--storage.tsdb.path=" + os.path.join(v.tmp, "prom")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(10)
            q = "/api/v1/query?query=" + urllib.parse.quote("phase_probe[1m]")
            mine = {round(t * 1000) % 3000 for t, _ in self.get_json(v, q)["result"][0]["values"]}
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, q)) as r:
                doc = json.loads(r.read())
            theirs = {round(t * 1000) % 3000 for t, _ in doc["data"]["result"][0]["values"]}
            self.assertEqual(len(mine), 1, mine)
            self.assertEqual(mine, theirs)
        finally:
            prom.terminate()
            prom.wait(10)
            v.stop()


if __name__ == "__main__":
    unittest.main()
