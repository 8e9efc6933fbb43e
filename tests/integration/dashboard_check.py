#!/usr/bin/python3
"""dashboard_check.py DASHBOARD SAMPLES... - every metric the Grafana dashboard's queries name is
one that Relais serves: it appears in one of the sample files scrape.py wrote (from a hub and
a node). Exit 0 if so; 1 with the names that are not."""
import json
import re
import sys


def main():
    dash = json.load(open(sys.argv[1]))
    served = set()
    for path in sys.argv[2:]:
        for line in open(path):
            if line.startswith("#family "):
                served.add(line.split()[1])
    wanted = set()
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            wanted.update(re.findall(r"\brelais_[a-z_]+", t["expr"]))
    missing = sorted(n for n in wanted if n not in served)
    if missing:
        print("the dashboard asks for metrics nobody serves: " + ", ".join(missing))
        return 1
    print("%d metrics in the dashboard, all served" % len(wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
