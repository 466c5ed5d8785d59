#!/usr/bin/env python3
"""Writes the past of bench/target_generator.py's targets as OpenMetrics.

The API load benchmark queries the last hour, so both servers start with
that hour already stored: this prints, for each target port, the samples
the target would have served every STEP seconds over SECONDS seconds
ending at END (Unix seconds), labelled as a scrape of job "bench" labels
them (instance="127.0.0.1:PORT", job="bench", plus up).  Pages are the
generator's own (same seed per target, its variants in turn), so the
history joins the live scrapes without a seam.  The output, series after
series in time order, is what both `vigil tsdb import` and `promtool tsdb
create-blocks-from openmetrics` read.

With --names it prints instead what bench/api_load.lua builds its queries
from, one "KIND INSTANCE NAME" line per counter and gauge family
(KIND counter or gauge) of each target: the families differ by target.

usage: history.py SERIES SECONDS STEP END PORT...
       history.py --names SERIES PORT...
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from target_generator import make_pages  # noqa: E402


def page_series(text):
    """[(name, labels, value)] of one exposition page."""
    out = []
    for line in text.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        out.append((name, labels.rstrip("}"), value))
    return out


def names(series, ports):
    for t, port in enumerate(ports):
        seen = set()
        for name, _, _ in page_series(make_pages(t, series, 1)[0][0]):
            kind = ("counter" if name.endswith("_seconds_total") else
                    "gauge" if name.startswith("node_bench_value_") else None)
            if kind and name not in seen:
                seen.add(name)
                print("%s 127.0.0.1:%s %s" % (kind, port, name))


def main():
    if sys.argv[1] == "--names":
        names(int(sys.argv[2]), sys.argv[3:])
        return
    series, secs, step, end = (int(a) for a in sys.argv[1:5])
    ports = sys.argv[5:]
    times = [end - secs + k * step for k in range(secs // step + 1)]
    w = sys.stdout.write
    for t, port in enumerate(ports):
        pages = [page_series(text) for text, _ in make_pages(t, series, 8)]
        extra = 'instance="127.0.0.1:%s",job="bench"' % port
        w("".join('up{%s} 1 %d\n' % (extra, ts) for ts in times))
        for i, (name, labels, _) in enumerate(pages[0]):
            ls = labels + "," + extra if labels else extra
            w("".join("%s{%s} %s %d\n" % (name, ls, pages[k % len(pages)][i][2], ts)
                      for k, ts in enumerate(times)))
    w("# EOF\n")


if __name__ == "__main__":
    main()
