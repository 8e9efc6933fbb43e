#!/bin/sh
# mkkeys.sh [--hubs HUB,HUB...] DIR RELAISCTL SITE... - the keys of a cluster's principals
# (docs/security.md): one per site node, one per operator, and with --hubs one per hub of an HA
# pair (docs/ha.md). Secret halves stay in DIR/*.key (0600, made once and
# kept: run it again and it only reads them); it writes for the configs:
#   DIR/sites.conf      "site key" lines, one per site (the hub puts each in its sites list)
#   DIR/operators.conf  operators = ( ... );  @include'd by the hub's and the nodes' configs
#   DIR/hubs.conf       with --hubs: "hub key" lines, one per hub (each hub's ha.key_file is
#                       DIR/HUB.key; the others' lines are its ha.peers)
# Operators of the local cluster: admin; noc; a supervisor per tenant (sup.telco, sup.bank,
# sup.ecom); wall, a viewer of every tenant (the wallboard's).
# Rotating a key: move its .key file away, run this again, restart (or reload) who checks it.
set -eu
hubs=""
if [ "${1:-}" = "--hubs" ]; then
	hubs=$2
	shift 2
fi
dir=$1 ctl=$2
shift 2
mkdir -p "$dir"
chmod 700 "$dir"
pub() { # id: the public half of DIR/id.key, made if missing
	if [ -f "$dir/$1.key" ]; then "$ctl" pubkey "$dir/$1.key"; else "$ctl" keygen "$dir/$1.key"; fi
}
: >"$dir/sites.conf"
for site in "$@"; do
	echo "$site $(pub "$site")" >>"$dir/sites.conf"
done
if [ -n "$hubs" ]; then
	: >"$dir/hubs.conf"
	for hub in $(echo "$hubs" | tr , ' '); do
		echo "$hub $(pub "$hub")" >>"$dir/hubs.conf"
	done
fi
{
	echo "operators = ("
	echo "  { id = \"admin\"; role = \"admin\"; key = \"$(pub admin)\"; },"
	echo "  { id = \"noc\"; role = \"noc\"; key = \"$(pub noc)\"; },"
	for t in telco bank ecom; do
		echo "  { id = \"sup.$t\"; role = \"supervisor\"; tenants = [ \"$t\" ]; key = \"$(pub "sup.$t")\"; },"
	done
	echo "  { id = \"wall\"; role = \"viewer\"; key = \"$(pub wall)\"; }"
	echo ");"
} >"$dir/operators.conf"
