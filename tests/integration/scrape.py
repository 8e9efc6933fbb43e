#!/usr/bin/python3
"""scrape.py URL TOKEN OUT - scrape a Relais hub's or node's /metrics as Prometheus would.

Checks that a scrape without the token is refused (401), then scrapes with it, parses the
text with prometheus_client's own parser (the reference implementation of the format) and
writes every family to OUT as `#family name` and every sample as `name{label="value",...}
value`, labels sorted. Exit 0 if the text parsed and every family has a HELP and a known
TYPE; 1 otherwise, with the reason.
"""
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def fetch(url, token):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), ""


def main():
    url, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
    status, _, _ = fetch(url, "")
    if status != 401:
        print("scrape without a token: %d, not 401" % status)
        return 1
    status, _, _ = fetch(url, token + "x")
    if status != 401:
        print("scrape with a wrong token: %d, not 401" % status)
        return 1
    status, ctype, text = fetch(url, token)
    if status != 200 or not ctype.startswith("text/plain; version=0.0.4"):
        print("scrape: %d %s" % (status, ctype))
        return 1
    lines = []
    for fam in text_string_to_metric_families(text):
        if not fam.documentation or fam.type not in ("counter", "gauge", "histogram"):
            print("family %s: help %r type %r" % (fam.name, fam.documentation, fam.type))
            return 1
        # the family as served (the parser takes _total off a counter's name), and for a
        # histogram the series a query names
        if fam.type == "histogram":
            if not any(s.name.endswith("_bucket") and s.labels.get("le") == "+Inf" for s in fam.samples):
                print("histogram %s without its +Inf bucket" % fam.name)
                return 1
            for suffix in ("_bucket", "_sum", "_count"):
                lines.append("#family %s%s" % (fam.name, suffix))
        else:
            lines.append("#family %s%s" % (fam.name, "_total" if fam.type == "counter" else ""))
        for s in fam.samples:
            labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
            lines.append("%s{%s} %s" % (s.name, labels, repr(float(s.value))))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d samples" % len(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
