#!/bin/bash
# cluster.sh - the main job: a local multi-site Relais cluster on loopback, with TLS.
#
# Starts a hub, three site nodes (Casablanca, Fès, Dakar) whose contact generators stand in
# for carrier calls, scripted agents (seated at each site, and home agents dialling the
# hub), a carrier (sipp) calling through the SBC (Kamailio, deploy/kamailio) that fronts the
# three sites' trunks, and shows a live per-queue summary. Stops cleanly after --duration, on Ctrl-C or on
# SIGTERM, and leaves no process behind.
# Calls carry audio: the caller's voice (a sentence spoken by espeak-ng) goes as Opus/SRTP
# from the node to the agent - straight to seated agents, through the hub's relay to home
# agents - and the home agents write what they hear to run/cluster/audio/<agent>-<call>.wav.
#
#   deploy/cluster.sh [--duration SECONDS] [--rate-scale X] [--dir DIR] [--base-port P]
#                     [--ha [--ha-kill-leader-at SECONDS]]
#
# --ha: two hubs, hub-a and hub-b, elected through a three-member etcd on loopback (docs/ha.md,
# Deployment): one leads, the other stands by; each runs in a loop that starts it again 1 s after
# it exits 75 (it lost the leadership) or dies, so it comes back as a standby. Nodes, home agents
# and relaisctl are given both hubs' addresses. --ha-kill-leader-at S: kill -9 the leading hub
# S seconds in, to watch a failover.
#
# Installs missing Debian packages and builds into build/ when needed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
duration=0
scale=1.0
dir="$top/run/cluster"
port=7400
ha=0
kill_at=0
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) duration=$2; shift 2 ;;
	--rate-scale) scale=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--base-port) port=$2; shift 2 ;;
	--ha) ha=1; shift ;;
	--ha-kill-leader-at) kill_at=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
done
if [ "$kill_at" != 0 ] && [ "$ha" = 0 ]; then
	echo "--ha-kill-leader-at needs --ha" >&2
	exit 2
fi

# Every process the cluster starts goes into pids, in start order, the moment it starts
# (core_pids: the hub and the nodes, first; under --ha the two hubs' loops). cleanup - on exit,
# Ctrl-C, SIGTERM or a closed terminal - stops them in three steps: agents and the carrier, then
# the nodes, then the hubs, each given 10 s before it is killed, then (--ha) the etcd members
# (etcd_pids), last so that a leader can resign, and waits for them: nothing is left behind.
pids=()
core_pids=()
etcd_pids=()
nhub=1 # the hub processes (or loops) at the head of pids
stopping=0
# stop PID...: SIGTERM, up to 10 s to exit, then SIGKILL for any still there.
stop() {
	local left p t
	kill -TERM "$@" 2>/dev/null
	for ((t = 0; t < 50; t++)); do
		left=()
		for p in "$@"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
		[ ${#left[@]} = 0 ] && return 0
		sleep 0.2
	done
	echo "killing what did not stop in 10 s: ${left[*]}"
	kill -KILL "${left[@]}" 2>/dev/null
}
cleanup() {
	local ncore=${#core_pids[@]}
	[ "$stopping" = 1 ] && return
	stopping=1
	set +e               # a failed echo (closed terminal) must not cut the stop short
	trap '' INT TERM HUP # nor a second Ctrl-C
	[ ${#pids[@]} -gt 0 ] || [ ${#etcd_pids[@]} -gt 0 ] || return 0
	if [ "$ncore" -gt 0 ]; then
		echo
		echo "final status:"
		"$ctl_bin" "${ctl_tls[@]}" --timeout 2 --connect "$hub_url" status queues 2>/dev/null
		[ -n "${sbc_dir:-}" ] && sbc_summary
		[ "$ha" = 1 ] && ha_summary && cat "$dir/logs/failover.log" 2>/dev/null
	fi
	echo "stopping cluster..."
	[ ${#pids[@]} -gt "$ncore" ] && stop "${pids[@]:ncore}"
	[ "$ncore" -gt "$nhub" ] && stop "${core_pids[@]:nhub}"
	[ ${#pids[@]} -gt 0 ] && stop "${pids[@]:0:nhub}"
	if [ "$ha" = 1 ]; then
		# A hub loop killed after 10 s leaves its hub behind: each loop leads a process group
		# (setsid) that its hub shares.
		for p in "${pids[@]:0:nhub}"; do kill -KILL -- "-$p" 2>/dev/null; done
		[ ${#etcd_pids[@]} -gt 0 ] && stop "${etcd_pids[@]}"
	fi
	wait 2>/dev/null
	echo "cluster stopped; logs in $dir/logs"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP
# run_bg CMD...: runs CMD in the background in a session of its own, so that Ctrl-C at the
# terminal reaches this script alone and cleanup stops the processes in order (agents log
# out before their site and hub go). setsid execs in place (a background job of a script leads no
# process group), so the pid recorded is the program's own.
run_bg() {
	setsid "$@" &
	pids+=($!)
}

if [ "$ha" = 1 ]; then sh "$top/deploy/deps.sh" --cluster --ha; else sh "$top/deploy/deps.sh" --cluster; fi
build="$top/build"
if [ ! -x "$build/hub/relais-hub" ] || [ -n "$(find "$top"/{lib,hub,node,agent-client,ctl,proto} -newer "$build/hub/relais-hub" -type f 2>/dev/null | head -1)" ]; then
	echo "building into $build"
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRELAIS_TESTS=OFF -DRELAIS_SANITIZE= >/dev/null
	cmake --build "$build" -j"$(nproc)" >/dev/null
fi
hub_bin="$build/hub/relais-hub"
node_bin="$build/node/relais-node"
agent_bin="$build/agent-client/relais-agent"
ctl_bin="$build/ctl/relaisctl"

# Each run is a fresh cluster: the previous run's store (its callers long gone) is dropped.
rm -rf "$dir/data"
mkdir -p "$dir"/{certs,secrets,logs,data,audio}
chmod 700 "$dir/secrets"
sh "$top/deploy/mkcerts.sh" "$dir/certs" casablanca fes dakar >/dev/null
certs="$dir/certs"
# Who is who: a key per site node and per operator (docs/security.md); kept across runs.
keys="$dir/keys"
if [ "$ha" = 1 ]; then
	sh "$top/deploy/mkkeys.sh" --hubs hub-a,hub-b "$keys" "$ctl_bin" casablanca fes dakar
else
	sh "$top/deploy/mkkeys.sh" "$keys" "$ctl_bin" casablanca fes dakar
fi
site_key() { awk -v s="$1" '$1 == s { print $2 }' "$keys/sites.conf"; }
hub_url="tls+tcp://127.0.0.1:$port"
# --ha: hub-a on the single hub's ports, hub-b beside it; hub_url lists both for every client.
if [ "$ha" = 1 ]; then
	declare -A ctl_port=([hub-a]=$port [hub-b]=$((port + 2)))
	declare -A repl_port=([hub-a]=$((port + 1)) [hub-b]=$((port + 3)))
	declare -A hub_metrics_port=([hub-a]=$((port + 50)) [hub-b]=$((port + 54)))
	declare -A wall_port=([hub-a]=$((port + 60)) [hub-b]=$((port + 61)))
	declare -A relay_port=([hub-a]=$((port + 100)) [hub-b]=$((port + 101)))
	etcd_client=($((port + 70)) $((port + 71)) $((port + 72)))
	etcd_peer=($((port + 73)) $((port + 74)) $((port + 75)))
	etcd_eps="http://127.0.0.1:${etcd_client[0]},http://127.0.0.1:${etcd_client[1]},http://127.0.0.1:${etcd_client[2]}"
	ha_key=/relais/hub
	hub_url="tls+tcp://127.0.0.1:${ctl_port[hub-a]},tls+tcp://127.0.0.1:${ctl_port[hub-b]}"
fi
declare -A node_port=([casablanca]=$((port + 11)) [fes]=$((port + 12)) [dakar]=$((port + 13)))
declare -A media_port=([casablanca]=$((port + 21)) [fes]=$((port + 22)) [dakar]=$((port + 23)))
declare -A metrics_port=([casablanca]=$((port + 51)) [fes]=$((port + 52)) [dakar]=$((port + 53)))
# The caller's voice: a spoken sentence (espeak-ng), looped for the length of each call.
caller_wav=""
if command -v espeak-ng >/dev/null; then
	caller_wav="$dir/audio/caller.wav"
	espeak-ng -v fr -s 150 -w "$caller_wav" \
		"Bonjour, j'appelle au sujet de ma facture du mois dernier. Le montant me semble trop élevé." 2>/dev/null ||
		caller_wav=""
fi
# The trunk's voice prompts (espeak-ng): the menu, and the announcement prompt sets - French
# by default, Arabic for callers who press 3 (lang=ar).
prompts="$dir/prompts"
mkdir -p "$prompts/ar"
say() { espeak-ng -v "$1" -s 150 -w "$2" "$3" 2>/dev/null; }
prompt_set() { # voice dir position wait short minute minutes
	say "$1" "$2/queue-position.wav" "$3"
	say "$1" "$2/queue-wait.wav" "$4"
	say "$1" "$2/queue-wait-short.wav" "$5"
	say "$1" "$2/minute.wav" "$6"
	say "$1" "$2/minutes.wav" "$7"
	for n in $(seq 0 99) $(seq 100 100 900); do say "$1" "$2/$n.wav" "$n"; done
}
if command -v espeak-ng >/dev/null && [ ! -f "$prompts/ar/minutes.wav" ]; then
	say fr "$prompts/menu.wav" "Bienvenue chez Maroc Télécom. Pour la facturation, tapez 1. Pour l'assistance technique, tapez 2. Pour l'arabe, tapez 3."
	prompt_set fr "$prompts" "Vous êtes l'appelant numéro" "Votre attente est estimée à environ" \
		"moins d'une minute" "minute" "minutes"
	prompt_set ar "$prompts/ar" "أنت المتصل رقم" "مدة الانتظار المتوقعة حوالي" "أقل من دقيقة" "دقيقة" "دقائق"
fi
# SIP: the SBC takes the carrier's calls on sbc_port and fronts each site's trunk.
sbc_port=$((port + 30))
declare -A sip_port=([casablanca]=$((port + 41)) [fes]=$((port + 42)) [dakar]=$((port + 43)))
# RTP ports of each site's carrier legs (two a call).
declare -A rtp_range=([casablanca]="$((port + 200)) $((port + 399))" [fes]="$((port + 400)) $((port + 499))"
	[dakar]="$((port + 500)) $((port + 599))")

# Agents: id site tenants skills. Seated agents dial their site's node; home agents
# (site "") dial the hub. Ids are grouped so one relais-agent process runs each group.
agents_conf() {
	cat <<'AGENTS'
casablanca telco      billing=7,fr=8,ar=6       a1001 a1002 a1003 a1004 a1005 a1006
casablanca telco      tech=6,fr=7,ar=7          a1007 a1008 a1009 a1010
fes        telco,ecom billing=5,fr=7,orders=6   a2001 a2002 a2003 a2004
fes        ecom       orders=8,fr=6             a2005 a2006
dakar      bank       cards=7,fr=8,wo=8         a3001 a3002 a3003 a3004 a3005 a3006
dakar      bank,telco cards=5,billing=4,fr=8,wo=6 a3007 a3008
home       telco,bank billing=6,cards=6,fr=8    a9001 a9002 a9003
home       ecom       orders=7,fr=7,ar=5        a9004 a9005 a9006
AGENTS
}

# Secrets: one random secret per agent, kept in a 0600 file the agent reads; the hub
# only ever sees the argon2id hash.
agent_entries=""
while read -r site tenants skills ids; do
	for id in $ids; do
		sf="$dir/secrets/$id.secret"
		[ -s "$sf" ] || (umask 077; head -c 18 /dev/urandom | base64 > "$sf")
		hash=$("$ctl_bin" hash-secret < "$sf")
		tl=$(echo "$tenants" | sed 's/\([^,]*\)/"\1"/g')
		sk=$(echo "$skills" | sed 's/=/ = /g; s/,/; /g')
		s=$site; [ "$s" = home ] && s=""
		agent_entries+="  { id = \"$id\"; tenants = [ $tl ]; skills = { $sk; }; site = \"$s\"; secret_hash = \"$hash\"; },"$'\n'
	done
done < <(agents_conf)
agent_list=${agent_entries%,$'\n'} # libconfig lists take no trailing comma
# dial_plan: the numbers the sites' trunks answer and their IVR menus, held at the hub and
# pushed to every node (any site can take any number: the SBC sends a number's calls to the
# first site up in its group); prompts are file names in the nodes' prompt_dir.
dial_plan() {
	cat <<EOF2
dial_plan = {
  dids = ( { did = "+212522000100"; tenant = "telco"; menu = "telco-main"; } );
  menus = ( { id = "telco-main"; prompt = "menu.wav"; timeout_s = 5; tries = 2;
              default_queue = "telco.billing";
              options = ( { digit = "1"; queue = "telco.billing"; key = "topic"; value = "facturation"; },
                          { digit = "2"; queue = "telco.tech"; key = "topic"; value = "technique"; },
                          { digit = "3"; queue = "telco.billing"; key = "lang"; value = "ar"; } ); } );
};
EOF2
}
# Prometheus metrics (docs/supervision.md): on loopback, with a token kept in a 0600 file.
metrics_url="http://127.0.0.1:$((port + 50))/metrics"
[ -s "$dir/metrics.token" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '\n' > "$dir/metrics.token")
metrics_sha=$(sha256sum < "$dir/metrics.token" | cut -d' ' -f1)
# gen_hub ID DATA_DIR CONTROL_URL METRICS_PORT WALLBOARD_PORT RELAY_PORT: a hub's config.
gen_hub() {
	cat <<EOF2
hub: {
  id = "$1";
  data_dir = "$2";
  listen = [ "$3" ];
  metrics_listen = "http://127.0.0.1:$4";
  metrics_token_sha256 = "$metrics_sha";
  wallboard_listen = "https://127.0.0.1:$5";   # docs/supervision.md
  agent_grace_s = 60;
  offer_timeout_s = 12;
  wrapup_s = 10;
  log_level = "notice";
};
tls: { ca = "$certs/ca.pem"; cert = "$certs/hub.pem"; key = "$certs/hub.key"; };
media = { relay_listen = "127.0.0.1:$6"; };
# Each site's backups take its calls while it is gone (the SBC's order for its numbers is the
# same: sbc_groups below).
sites = (
  { id = "casablanca"; name = "Casablanca"; key = "$(site_key casablanca)"; backup = [ "fes", "dakar" ]; },
  { id = "fes"; name = "Fès"; key = "$(site_key fes)"; backup = [ "casablanca", "dakar" ]; },
  { id = "dakar"; name = "Dakar"; key = "$(site_key dakar)"; backup = [ "casablanca", "fes" ]; }
);
@include "$keys/operators.conf"
tenants = (
  { id = "telco"; name = "Maroc Telco"; },
  { id = "bank"; name = "Banque Atlas"; recording = "all"; },
  { id = "ecom"; name = "Souk Online"; monitor_notify = true; recording = "25%"; }
);
queues = (
  { id = "telco.billing"; tenant = "telco"; name = "Facturation";
    skills = { billing = 3; fr = 5; }; sites = [ "casablanca", "fes" ];
    sl_pct = 90; sl_seconds = 10; wrapup_s = 8; offer_timeout_s = 10;
    policy = "longest_idle"; sticky_s = 3600;
    overflow = ( { after_s = 8; waiting_over = 0; widen = [ "all_sites" ]; },
                 { after_s = 20; waiting_over = 6; widen = [ "home" ]; } ); },
  { id = "telco.tech"; tenant = "telco"; name = "Support technique";
    skills = { tech = 4; fr = 5; }; sites = [ "casablanca" ];
    sl_pct = 80; sl_seconds = 20; wrapup_s = 10; policy = "most_skilled";
    skills2 = { billing = 5; fr = 5; };
    overflow = ( { after_s = 30; waiting_over = 0; widen = [ "skills2", "all_sites" ]; } ); },
  { id = "bank.cards"; tenant = "bank"; name = "Cartes";
    skills = { cards = 4; fr = 5; }; sites = [ "dakar" ];
    sl_pct = 80; sl_seconds = 20; wrapup_s = 10;
    overflow = ( { after_s = 15; waiting_over = 4; widen = [ "home" ]; } ); },
  { id = "ecom.orders"; tenant = "ecom"; name = "Commandes";
    skills = { orders = 3; }; sites = [ ];
    sl_pct = 80; sl_seconds = 30; wrapup_s = 6; }
);
agents = (
$agent_list
);
$(dial_plan)
EOF2
}
hub_key() { awk -v h="$1" '$1 == h { print $2 }' "$keys/hubs.conf"; }
# ha_group HUB OTHER: HUB's ha group (docs/ha.md, Deployment), OTHER its one peer.
ha_group() {
	cat <<EOF2
ha: {
  etcd = "$etcd_eps";
  key = "$ha_key";
  name = "$1";
  advertise = "tls+tcp://127.0.0.1:${ctl_port[$1]}";
  repl_listen = "tls+tcp://127.0.0.1:${repl_port[$1]}";
  key_file = "$keys/$1.key";
  peers = ( { name = "$2"; key = "$(hub_key "$2")"; } );
  ttl_s = 3;
  sync = "prefer";
};
EOF2
}
if [ "$ha" = 1 ]; then
	for h in hub-a hub-b; do
		other=hub-b
		[ "$h" = hub-b ] && other=hub-a
		{
			gen_hub "$h" "$dir/data/$h" "tls+tcp://127.0.0.1:${ctl_port[$h]}" "${hub_metrics_port[$h]}" \
				"${wall_port[$h]}" "${relay_port[$h]}"
			ha_group "$h" "$other"
		} >"$dir/$h.conf"
	done
else
	gen_hub hub-1 "$dir/data/hub" "$hub_url" $((port + 50)) $((port + 60)) $((port + 100)) >"$dir/hub.conf"
fi

gen_node() { # site name streams... ($sip_group: the site's trunk, if any; $node_more: settings)
	local site=$1 name=$2
	shift 2
	mkdir -p "$dir/data/node-$site"
	cat > "$dir/node-$site.conf" <<EOF2
node: {
  site_id = "$site";
  name = "$name";
  capacity = 120;
  hub = "$hub_url";
  listen = [ "tls+tcp://127.0.0.1:${node_port[$site]}" ];
  log_level = "notice";
  key_file = "$keys/$site.key";
  state_dir = "$dir/data/node-$site";
  metrics_listen = "http://127.0.0.1:${metrics_port[$site]}";
  metrics_token_sha256 = "$metrics_sha";
${node_more:-}
};
@include "$keys/operators.conf"
tls: { ca = "$certs/ca.pem"; cert = "$certs/node-$site.pem"; key = "$certs/node-$site.key"; };
media = { listen = "127.0.0.1:${media_port[$site]}"; caller_audio = "$caller_wav"; caller_loop = true; };
recording = { dir = "$dir/recordings/$site"; };
generator = (
$(printf '%s\n' "$@" | sed '$!s/$/,/')
);
${sip_group:-}
EOF2
}
rate() { awk -v r="$1" -v s="$scale" 'BEGIN { printf "%.2f", r * s }'; }
# site_trunk SITE: the site's sip group - its trunk on its own port, taking calls from the SBC
# (on loopback) only, with the dial plan.
site_trunk() {
	local lo hi
	read -r lo hi <<<"${rtp_range[$1]}"
	cat <<EOF2
sip = {
  listen = "127.0.0.1:${sip_port[$1]}"; media_ip = "127.0.0.1"; trunks = [ "127.0.0.1" ];
  rtp_min = $lo; rtp_max = $hi; max_calls = $(((hi - lo + 1) / 2)); # two ports a call
  announce_dir = "$prompts"; announce_first_s = 10; announce_every_s = 30;
  prompt_dir = "$prompts"; # the hub's dial plan's prompts
};
EOF2
}
# Demo traffic: Poisson arrivals; handle times are scaled down (talk ~20 s, wrap ~5 s).
sip_group=$(site_trunk casablanca)
gen_node casablanca "Casablanca" \
	"  { tenant = \"telco\"; queue = \"telco.billing\"; per_minute = $(rate 24); priority = 0; patience_s = 45.0; }" \
	"  { tenant = \"telco\"; queue = \"telco.tech\"; per_minute = $(rate 10); priority = 1; patience_s = 60.0; }"
sip_group=$(site_trunk fes)
gen_node fes "Fès" \
	"  { tenant = \"telco\"; queue = \"telco.billing\"; per_minute = $(rate 6); priority = 0; patience_s = 45.0; }" \
	"  { tenant = \"ecom\"; queue = \"ecom.orders\"; per_minute = $(rate 12); priority = 0; patience_s = 90.0; }"
sip_group=$(site_trunk dakar)
# Dakar's link to the hub crosses a WAN that drops: it serves alone meanwhile (docs/failover.md).
node_more="  survivable = true;"
gen_node dakar "Dakar" \
	"  { tenant = \"bank\"; queue = \"bank.cards\"; per_minute = $(rate 18); priority = 2; patience_s = 60.0; }"

ctl_tls=(--ca "$certs/ca.pem" --cert "$certs/ctl.pem" --key "$certs/ctl.key"
	--operator noc --operator-key "$keys/noc.key")
agent_tls=(--ca "$certs/ca.pem" --cert "$certs/agent.pem" --key "$certs/agent.key")

# --ha: etcd's three members (the test's timing, tests/ha: elections within a second on
# loopback), each in a data dir of its own, dropped with the run's store.
etcd_bin=$(command -v etcd || echo /usr/bin/etcd)
etcdctl_bin=$(command -v etcdctl || echo /usr/bin/etcdctl)
start_etcd() {
	local i cluster=""
	for i in 0 1 2; do cluster+="${cluster:+,}m$i=http://127.0.0.1:${etcd_peer[i]}"; done
	for i in 0 1 2; do
		setsid "$etcd_bin" --name "m$i" --data-dir "$dir/data/etcd-m$i" \
			--listen-client-urls "http://127.0.0.1:${etcd_client[i]}" \
			--advertise-client-urls "http://127.0.0.1:${etcd_client[i]}" \
			--listen-peer-urls "http://127.0.0.1:${etcd_peer[i]}" \
			--initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer[i]}" \
			--initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token relais-cluster \
			--heartbeat-interval 50 --election-timeout 500 >>"$dir/logs/etcd-m$i.log" 2>&1 &
		etcd_pids+=($!)
	done
	local until=$(($(date +%s) + 20))
	while [ "$(date +%s)" -lt "$until" ]; do
		"$etcdctl_bin" --endpoints "$etcd_eps" --dial-timeout=1s --command-timeout=1s endpoint health \
			>/dev/null 2>&1 && return 0
		sleep 0.2
	done
	"$etcdctl_bin" --endpoints "$etcd_eps" --dial-timeout=1s --command-timeout=1s endpoint health >&2 || true
	echo "etcd did not come up healthy in 20 s; see $dir/logs/etcd-m*.log" >&2
	exit 1
}
# ha_term: "NAME REVISION" of the hub etcd's leader key names (REVISION, its create revision,
# tells one term from the next), or nothing when no hub leads or etcd does not answer.
ha_term() {
	"$etcdctl_bin" --endpoints "$etcd_eps" --dial-timeout=1s --command-timeout=1s get -w fields "$ha_key/leader" 2>/dev/null |
		awk '/^"CreateRevision"/ { r = $3 }
		     /^"Value"/ { if (match($0, /\\"name\\": *\\"[^\\]*/)) { v = substr($0, RSTART, RLENGTH); sub(/.*\\"/, "", v); n = v } }
		     END { if (n != "") print n, r }' || true
}
# ha_summary: who leads, and each hub's state (its loop's restarts are in its log).
ha_summary() {
	local term h pid restarts state line
	term=$(ha_term)
	if [ -n "$term" ]; then
		line="hubs: leader ${term%% *} (etcd $ha_key/leader, revision ${term##* })"
	else
		line="hubs: leader none (no hub holds $ha_key/leader)"
	fi
	for h in hub-a hub-b; do
		pid="" restarts=""
		read -r pid restarts 2>/dev/null <"$dir/$h.pid" || true
		state=down
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && state="up, pid $pid"
		line+="; $h :${ctl_port[$h]} $state, restarts ${restarts:-0}"
	done
	echo "$line"
}
# kill_leader: kill -9 the hub that leads, then watch for up to 30 s for the next term and for
# the hubs to answer relaisctl again (routing resumed).
kill_leader() {
	local term pid t0 now next="" t
	term=$(ha_term)
	if [ -z "$term" ] || [ ! -s "$dir/${term%% *}.pid" ]; then
		echo "--ha-kill-leader-at: no hub leads ($ha_key/leader is empty): nothing killed"
		return 0
	fi
	read -r pid _ <"$dir/${term%% *}.pid"
	t0=$(date +%s%N)
	kill -KILL "$pid" 2>/dev/null || true
	echo "$(date +%T) killed the leader ${term%% *} (pid $pid, revision ${term##* }) with SIGKILL"
	since() { awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
	for ((t = 0; t < 120; t++)); do
		now=$(ha_term)
		if [ -n "$now" ] && [ "${now##* }" != "${term##* }" ]; then
			next=$now
			echo "$(date +%T) ${next%% *} leads (revision ${next##* }), $(since) s after the kill"
			break
		fi
		sleep 0.25
	done
	[ -n "$next" ] || { echo "no new leader 30 s after the kill"; return 0; }
	if "$ctl_bin" "${ctl_tls[@]}" --timeout 20 --connect "$hub_url" status queues >/dev/null 2>&1; then
		echo "$(date +%T) the hubs answer relaisctl again, $(since) s after the kill"
	else
		echo "the hubs did not answer relaisctl within 20 s of the new term"
	fi
}
# hub_loop NAME PIDFILE HUB_COMMAND...: runs the hub, again 1 s after it exits 75 (it lost the
# leadership: it comes back as a standby) or dies of a signal; another exit ends the loop, and
# so the cluster (the loop is a core process). SIGTERM stops the hub, then the loop. PIDFILE
# holds "the hub's pid, its restarts", for the summary and --ha-kill-leader-at.
# shellcheck disable=SC2016 # expanded by the loop's own shell
hub_loop='
name=$1 pidfile=$2
shift 2
hub=0 stopping=0 restarts=0
trap "stopping=1; [ \$hub = 0 ] || kill -TERM \$hub 2>/dev/null" TERM INT HUP
while :; do
	"$@" &
	hub=$!
	echo "$hub $restarts" >"$pidfile"
	# wait returns early when a signal runs the trap: wait on until the hub is gone
	while :; do
		wait "$hub"
		rc=$?
		kill -0 "$hub" 2>/dev/null || break
	done
	hub=0
	[ "$stopping" = 1 ] && exit 0
	if [ "$rc" = 75 ]; then
		why="it lost the leadership"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	else
		echo "$(date -u +%FT%T.%3NZ) cluster: $name exited with status $rc: not started again"
		exit "$rc"
	fi
	echo "$(date -u +%FT%T.%3NZ) cluster: $name exited ($why): starting it again in 1 s, as a standby"
	sleep 1
	[ "$stopping" = 1 ] && exit 0
	restarts=$((restarts + 1))
done'
if [ "$ha" = 1 ]; then
	rm -f "$dir/logs/failover.log" "$dir/hub-a.pid" "$dir/hub-b.pid"
	start_etcd
	for h in hub-a hub-b; do
		run_bg bash -c "$hub_loop" hub-loop "$h" "$dir/$h.pid" "$hub_bin" -c "$dir/$h.conf" >>"$dir/logs/$h.log" 2>&1
	done
	nhub=2
else
	run_bg "$hub_bin" -c "$dir/hub.conf" >>"$dir/logs/hub.log" 2>&1
fi
for site in casablanca fes dakar; do
	run_bg "$node_bin" -c "$dir/node-$site.conf" >>"$dir/logs/node-$site.log" 2>&1
done
# The SBC in front of the sites' trunks (docs/sbc.md): Kamailio, configured by
# deploy/kamailio/sbc.sh for the sites and the DID groups below, logging to logs/kamailio.log.
# sbc_groups: each group of numbers, and the sites that take its calls (home site first).
sbc_groups() {
	cat <<'GROUPS'
# group  sites, home first      numbers
telco    casablanca,fes,dakar   +212522000100
GROUPS
}
sbc_dir="$dir/sbc"
kamailio_bin=$(command -v kamailio || echo /usr/sbin/kamailio)
kamcmd_bin=$(command -v kamcmd || echo /usr/sbin/kamcmd)
sbc_groups >"$dir/sbc-groups"
sh "$top/deploy/kamailio/sbc.sh" --out "$sbc_dir" --listen "127.0.0.1:$sbc_port" --groups "$dir/sbc-groups" \
	--site "casablanca=127.0.0.1:${sip_port[casablanca]}" --site "fes=127.0.0.1:${sip_port[fes]}" \
	--site "dakar=127.0.0.1:${sip_port[dakar]}"
run_bg "$kamailio_bin" -DD -E -f "$sbc_dir/kamailio.cfg" -Y "$sbc_dir" -P "$sbc_dir/kamailio.pid" -w "$sbc_dir" \
	>>"$dir/logs/kamailio.log" 2>&1
# sbc_summary: where the carrier's calls went, from the SBC's counters (nothing if it does not
# answer).
sbc_stat() { awk -v k="script:$1" '$1 == k { print $3 }' <<<"$2"; }
sbc_summary() {
	local out site line=""
	out=$("$kamcmd_bin" -s "unix:$sbc_dir/ctl.sock" stats.get_statistics script: 2>/dev/null) || return 0
	for site in casablanca fes dakar; do
		line+="  $site $(sbc_stat "answered_$site" "$out") answered ($(sbc_stat "routed_$site" "$out") sent,"
		line+=" $(sbc_stat "failover_$site" "$out") failed over)"
	done
	echo "carrier calls by site (SBC):$line;  no site $(sbc_stat no_site "$out"), failed $(sbc_stat failed "$out")"
}
core_pids=("${pids[@]}") # hub (or hubs' loops), nodes and the SBC: the cluster stops if one of them exits
# The carrier: SIP calls with audio to the SBC, for the telco DID (sipp, from Debian's sip-tester).
if command -v sipp >/dev/null; then
	sip_rate=$(awk -v s="$scale" 'BEGIN { r = 4 * s; printf "%d", r < 1 ? 1 : r }')
	(cd "$dir/logs" && exec setsid sipp "127.0.0.1:$sbc_port" -sf "$top/deploy/sipp/carrier.xml" -s +212522000100 \
		-i 127.0.0.1 -p $((port + 31)) -mi 127.0.0.1 -mp $((port + 32)) -r "$sip_rate" -rp 60000 -l 40 \
		-nostdin -trace_err -error_file "$dir/logs/sipp-errors.log" >"$dir/logs/sipp.log" 2>&1) &
	pids+=($!)
fi
g=0
while read -r site tenants skills ids; do
	g=$((g + 1))
	audio=()
	if [ "$site" = home ]; then
		url=$hub_url
		audio=(--audio-out "$dir/audio/%a-%c.wav") # what home agents hear, one file per call
	else
		url="tls+tcp://127.0.0.1:${node_port[$site]}"
	fi
	run_bg "$agent_bin" "${agent_tls[@]}" --connect "$url" --agents "$(echo "$ids" | tr ' ' ,)" "${audio[@]}" \
		--secret-dir "$dir/secrets" --seed "$g" \
		--script "answer=2,talk=20,wrap=5,reject=0.03,break=0.05" \
		>>"$dir/logs/agents-$g.log" 2>&1
done < <(agents_conf)

echo "Relais cluster: hub $hub_url, nodes casablanca:${node_port[casablanca]} fes:${node_port[fes]} dakar:${node_port[dakar]}"
echo "logs: $dir/logs   ctl: $ctl_bin ${ctl_tls[*]} --connect $hub_url status"
echo "audio: what home agents hear is written to $dir/audio/<agent>-<call>.wav"
echo "metrics: curl -H \"Authorization: Bearer \$(cat $dir/metrics.token)\" $metrics_url" \
	"(nodes: ports ${metrics_port[casablanca]}, ${metrics_port[fes]}, ${metrics_port[dakar]})"
echo "wallboard: $ctl_bin --ca $certs/ca.pem --cert $certs/ctl.pem --key $certs/ctl.key --operator wall" \
	"--operator-key $keys/wall.key --connect $hub_url wallboard" \
	"(prints the address to open within a minute; as sup.bank etc. for one tenant)"
echo "SIP: the SBC on 127.0.0.1:$sbc_port fronts the trunks of casablanca :${sip_port[casablanca]}," \
	"fes :${sip_port[fes]}, dakar :${sip_port[dakar]}; sipp calls +212522000100 (home casablanca) through it"
if [ "$ha" = 1 ]; then
	echo "HA: etcd $etcd_eps (logs etcd-m0..2.log; $etcdctl_bin --endpoints $etcd_eps get $ha_key/leader);" \
		"hub-a control :${ctl_port[hub-a]} replication :${repl_port[hub-a]}, hub-b control :${ctl_port[hub-b]}" \
		"replication :${repl_port[hub-b]} (logs hub-a.log, hub-b.log: grep 'ha ')"
	echo "HA: each hub serves metrics and the wallboard on its own ports: hub-a :${hub_metrics_port[hub-a]} and" \
		":${wall_port[hub-a]}, hub-b :${hub_metrics_port[hub-b]} and :${wall_port[hub-b]}; the leader's are live"
	ha_summary
fi

start=$(date +%s)
while :; do
	sleep 2
	for p in "${core_pids[@]}"; do
		kill -0 "$p" 2>/dev/null || { echo "a core process exited; see $dir/logs" >&2; exit 1; }
	done
	if [ -t 1 ]; then printf '\033[H\033[2J'; fi
	echo "Relais local cluster — $(date '+%H:%M:%S'), up $(( $(date +%s) - start )) s (Ctrl-C to stop)"
	"$ctl_bin" "${ctl_tls[@]}" --connect "$hub_url" status queues 2>&1 || true
	echo
	"$ctl_bin" "${ctl_tls[@]}" --connect "$hub_url" status sites 2>&1 || true
	sbc_summary
	echo
	"$ctl_bin" "${ctl_tls[@]}" --connect "$hub_url" status calls 2>&1 | head -12 || true
	if [ "$ha" = 1 ]; then
		echo
		ha_summary
		if [ "$kill_at" != 0 ] && [ $(($(date +%s) - start)) -ge "$kill_at" ]; then
			kill_at=0
			kill_leader | tee "$dir/logs/failover.log"
		elif [ -t 1 ] && [ -s "$dir/logs/failover.log" ]; then
			cat "$dir/logs/failover.log" # what the screen's clearing took away
		fi
	fi
	if [ "$duration" != 0 ] && [ $(( $(date +%s) - start )) -ge "$duration" ]; then
		break
	fi
done
