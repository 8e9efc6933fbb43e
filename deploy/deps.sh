#!/bin/sh
# deps.sh [--test] [--cluster] [--ha] - install what Relais needs on Debian 12, only what is missing.
# --test adds the test-only tools (lmdb-utils, the SIP peers, iproute2 for the failover test's
# network namespaces, cppcheck and clang-format, the Prometheus text parser, headless Chromium
# for the wallboard's test, etcd for the leader election test); --cluster adds espeak-ng for the local
# cluster's caller voice, sipp (its carrier) and kamailio (its SBC); --ha adds etcd and etcdctl for
# the local cluster's pair of hubs (cluster.sh --ha). A single hub needs no etcd.
set -eu
pkgs="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libnng-dev
libmbedtls-dev liblmdb-dev libsodium-dev libconfig-dev libcjson-dev libopus-dev libsrtp2-dev
libsndfile1-dev libogg-dev libasound2-dev libsofia-sip-ua-dev libcurl4-openssl-dev openssl procps"
for opt in "$@"; do
	case "$opt" in
	--test)
		pkgs="$pkgs lmdb-utils sip-tester kamailio kamailio-tls-modules iproute2 cppcheck clang-format
		python3-prometheus-client opus-tools chromium etcd-server" ;;
	--cluster)
		pkgs="$pkgs espeak-ng sip-tester kamailio" ;; # the demo caller's voice and prompts; the demo carrier; the SBC
	--ha)
		pkgs="$pkgs etcd-server etcd-client" ;; # the three etcd members, and etcdctl to ask who leads
	*) echo "deps.sh: unknown option $opt" >&2; exit 2 ;;
	esac
done
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi
