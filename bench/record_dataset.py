#!/usr/bin/env python3
"""Records a real-world dataset for the storage benchmarks.

Scrapes real exporters (a prometheus-node-exporter and a Prometheus server's
own /metrics, both Debian packages started by bench/storage.sh) N times as
fast as they answer, and stamps scrape k at start + k*interval, so that N
scrapes become N*interval of data at the usual 15 s spacing.  Values are the
real ones the exporters reported (their changes between scrapes are smaller
than over 15 s real time, which favours no particular store).

Writes the same samples twice:
  OUT.om    OpenMetrics text, timestamps in seconds, one metric family at a
            time and each series' samples in time order, ending in # EOF:
            what `promtool tsdb create-blocks-from openmetrics` and
            `vigil tsdb import` read
  OUT.prom  Prometheus text with millisecond timestamps, for
            VictoriaMetrics' /api/v1/import/prometheus

usage: record_dataset.py OUT N INTERVAL_S TARGET_URL[=job,instance] ...
"""
import re
import sys
import time
import urllib.request

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?$')


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8", "replace")


def add_target_labels(labels, job, instance):
    inner = labels[1:-1] if labels else ""
    extra = 'instance="%s",job="%s"' % (instance, job)
    return "{" + (inner + "," if inner.strip() else "") + extra + "}"


def om_value(v):
    # OpenMetrics spells infinities +Inf/-Inf and NaN exactly so.
    return {"+inf": "+Inf", "inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}.get(v.lower(), v)


def main():
    out, n, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    targets = []
    for spec in sys.argv[4:]:
        url, _, jl = spec.partition("=")
        job, _, inst = jl.partition(",")
        targets.append((url, job or "job", inst or url.split("/")[2]))
    start = 1_700_000_000.0
    families = {}   # name -> (type, {series: [(t, v)]})
    types = {}
    for k in range(n):
        t = start + k * interval
        for url, job, inst in targets:
            for line in scrape(url).splitlines():
                if line.startswith("# TYPE "):
                    _, _, name, typ = line.split(None, 3)
                    types[name] = typ
                    continue
                if not line or line.startswith("#"):
                    continue
                m = LINE.match(line)
                if not m:
                    continue
                name, labels, value = m.group(1), m.group(2), m.group(3)
                fam = name
                for suf in ("_bucket", "_sum", "_count", "_total", "_created"):
                    if name.endswith(suf) and name[: -len(suf)] in types:
                        fam = name[: -len(suf)]
                series = name + add_target_labels(labels, job, inst)
                families.setdefault(fam, {}).setdefault(series, []).append((t, value))
    samples = 0
    with open(out + ".om", "w") as om, open(out + ".prom", "w") as pr:
        for fam, series in families.items():
            typ = types.get(fam, "unknown")
            # Counters' samples must end in _total in OpenMetrics; keep the
            # family untyped when the exporter's names do not follow that.
            if typ == "counter" and not all(s.split("{")[0].endswith("_total") for s in series):
                typ = "unknown"
            if typ == "untyped":
                typ = "unknown"
            om.write("# TYPE %s %s\n" % (fam if typ != "counter" else fam.removesuffix("_total"), typ))
            for s, pts in series.items():
                for t, v in pts:
                    om.write("%s %s %.3f\n" % (s, om_value(v), t))
                    pr.write("%s %s %d\n" % (s, v, int(round(t * 1000))))
                    samples += 1
        om.write("# EOF\n")
    print("recorded %d samples in %d series over %.1f h" %
          (samples, sum(len(s) for s in families.values()), n * interval / 3600), file=sys.stderr)


if __name__ == "__main__":
    main()
