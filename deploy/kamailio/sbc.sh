#!/bin/sh
# sbc.sh - writes the carrier-side SBC (Kamailio with its dispatcher, docs/sbc.md) for given
# site nodes and DID groups: OUT/kamailio.cfg, filled in from kamailio.cfg.in beside this
# script, and OUT/dispatcher.list, one dispatcher set per DID group.
#
#   deploy/kamailio/sbc.sh --out DIR --listen IP:PORT --groups FILE --site NAME=IP:PORT...
#       [--ctl SOCKET] [--no-answer-ms MS] [--ring-s S] [--probe-s S]
#
#   --listen        where carriers send their calls (UDP)
#   --site          a site node's SIP address, once per site (its `sip.listen`)
#   --groups        the DID groups, one a line: a name, its sites in order (the home site
#                   first, then its backups, comma-separated), then its numbers as the
#                   carrier dials them (the Request-URI's user); "*" takes any number no
#                   other group has. "#" starts a comment.
#                       telco  casablanca,fes,dakar  +212522000100 +212522000101
#                       bank   dakar,casablanca      +221338000200
#   --ctl           kamcmd's socket (default DIR/ctl.sock; under 100 bytes)
#   --no-answer-ms  a site that sends nothing at all (not even 100 Trying) for this long is
#                   failed over, and an OPTIONS probe unanswered this long marks it down
#                   (tm fr_timer; default 2000)
#   --ring-s        how long a site may let a call ring once it answered 1xx (tm
#                   fr_inv_timer; default 120)
#   --probe-s       OPTIONS probe interval (dispatcher ds_ping_interval; default 1)
#
# Then run it in the foreground (SIGTERM stops it and its workers):
#   kamailio -DD -E -f DIR/kamailio.cfg -Y DIR -P DIR/kamailio.pid -w DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="" listen="" groups="" ctl="" sites=""
fr_ms=2000 ring_s=120 probe_s=1
usage() { sed -n '2,28p' "$0"; }
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--out | --listen | --groups | --site | --ctl | --no-answer-ms | --ring-s | --probe-s)
		if [ $# -lt 2 ]; then
			echo "sbc.sh: $1 needs a value" >&2
			exit 2
		fi
		;;
	*)
		echo "sbc.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	case "$1" in
	--out) out=$2 ;;
	--listen) listen=$2 ;;
	--groups) groups=$2 ;;
	--site) sites="$sites $2" ;;
	--ctl) ctl=$2 ;;
	--no-answer-ms) fr_ms=$2 ;;
	--ring-s) ring_s=$2 ;;
	--probe-s) probe_s=$2 ;;
	esac
	shift 2
done
if [ -z "$out" ] || [ -z "$listen" ] || [ -z "$groups" ] || [ -z "$sites" ]; then
	usage >&2
	exit 2
fi
ctl=${ctl:-$out/ctl.sock}
mkdir -p "$out"
# One pass: the groups file (checked, and written out as the dispatcher list), then the
# template. Nothing is left half-written: the configuration appears whole or not at all.
if ! awk -v sites="$sites" -v listen="$listen" -v ctl="$ctl" -v ds="$out/dispatcher.list" -v ds_tmp="$out/dispatcher.list.tmp" \
	-v fr_ms="$fr_ms" -v ring_s="$ring_s" -v probe_s="$probe_s" '
function fail(msg) { print "sbc.sh: " msg > "/dev/stderr"; failed = 1; exit 1 }
function addr_ok(a) { return a ~ /^([0-9.]+|\[[0-9A-Fa-f:.]+\]):[0-9]+$/ }
function esc(v) { gsub(/[\\&]/, "\\\\&", v); return v }
BEGIN {
	if (!addr_ok(listen)) fail("--listen " listen ": not IP:PORT")
	if (fr_ms !~ /^[0-9]+$/ || fr_ms < 100) fail("--no-answer-ms " fr_ms ": 100 or more")
	if (ring_s !~ /^[0-9]+$/ || ring_s < 1) fail("--ring-s " ring_s ": 1 or more")
	if (probe_s !~ /^[0-9]+$/ || probe_s < 1) fail("--probe-s " probe_s ": 1 or more")
	n = split(sites, sv, " ")
	for (i = 1; i <= n; i++) {
		eq = index(sv[i], "=")
		name = substr(sv[i], 1, eq - 1); a = substr(sv[i], eq + 1)
		if (eq < 2 || name !~ /^[A-Za-z0-9_-]+$/ || !addr_ok(a)) fail("--site " sv[i] ": not NAME=IP:PORT")
		if (name in addr) fail("site " name " given twice")
		addr[name] = a; order[++nsites] = name
	}
	listen_ip = listen; sub(/:[0-9]+$/, "", listen_ip)
	ngroups = 0; widest = 0
}
# The DID groups file: name, sites in order, numbers.
FNR == NR {
	sub(/#.*/, "")
	if (NF == 0) next
	if (NF < 3) fail(FILENAME ":" FNR ": want a name, its sites and its numbers")
	if ($1 !~ /^[A-Za-z0-9_.-]+$/ || ($1 in gset)) fail(FILENAME ":" FNR ": bad or repeated group name " $1)
	g = ++ngroups; gname[g] = $1; gset[$1] = g
	ns = split($2, gs, ",")
	if (ns > widest) widest = ns
	delete seen
	for (i = 1; i <= ns; i++) {
		if (!(gs[i] in addr)) fail(FILENAME ":" FNR ": site " gs[i] " has no --site")
		if (gs[i] in seen) fail(FILENAME ":" FNR ": site " gs[i] " twice in group " $1)
		seen[gs[i]] = 1
		# Set g, highest priority first: the home site, then the backups in order.
		printf "%d sip:%s 0 %d site=%s;group=%s\n", g, addr[gs[i]], ns - i + 1, gs[i], $1 > ds_tmp
	}
	for (i = 3; i <= NF; i++) {
		if ($i != "*" && $i !~ /^[+]?[0-9A-Za-z#._-]+$/) fail(FILENAME ":" FNR ": bad number " $i)
		if ($i in did) fail(FILENAME ":" FNR ": number " $i " is in two groups")
		did[$i] = g; dids[g] = dids[g] " " $i
	}
	next
}
# The template.
$0 == "@SITE_STATS@" {
	for (i = 1; i <= nsites; i++)
		for (k = split("routed answered failover", st, " "); k > 0; k--)
			printf "modparam(\"statistics\", \"variable\", \"%s_%s\")\n", st[k], order[i]
	next
}
$0 == "@DID_GROUPS@" {
	print "route[GROUP] {"
	print "\tswitch ($rU) {"
	for (g = 1; g <= ngroups; g++) {
		ncase = 0
		for (i = split(dids[g], dv, " "); i > 0; i--)
			if (dv[i] == "*") anyg = g; else { printf "\tcase \"%s\":\n", dv[i]; ncase++ }
		if (ncase) printf "\t\t$avp(group) = \"%s\";\n\t\t$avp(set) = %d;\n\t\tbreak;\n", gname[g], g
	}
	if (anyg) printf "\tdefault:\n\t\t$avp(group) = \"%s\";\n\t\t$avp(set) = %d;\n", gname[anyg], anyg
	print "\t}"
	print "}"
	next
}
{
	gsub(/@LISTEN@/, esc(listen)); gsub(/@LISTEN_IP@/, esc(listen_ip)); gsub(/@CTL@/, esc(ctl))
	gsub(/@DS_LIST@/, esc(ds)); gsub(/@FR_MS@/, fr_ms); gsub(/@RING_MS@/, ring_s * 1000)
	gsub(/@PROBE_S@/, probe_s); gsub(/@LIFETIME_MS@/, ring_s * 1000 + widest * fr_ms)
	if ($0 ~ /@[A-Z_]+@/) fail("kamailio.cfg.in: unknown placeholder in: " $0)
	print
}
END {
	if (failed) exit 1
	if (ngroups == 0) { print "sbc.sh: no DID group in the groups file" > "/dev/stderr"; exit 1 }
}' "$groups" "$here/kamailio.cfg.in" >"$out/kamailio.cfg.tmp"; then
	rm -f "$out/kamailio.cfg.tmp" "$out/dispatcher.list.tmp"
	exit 1
fi
mv "$out/dispatcher.list.tmp" "$out/dispatcher.list"
mv "$out/kamailio.cfg.tmp" "$out/kamailio.cfg"
