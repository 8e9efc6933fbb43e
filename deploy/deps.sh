#!/bin/sh
# deps.sh [--test] - install what Relais needs on Debian 12, only what is missing.
# --test adds the test-only tools (lmdb-utils, the SIP peers, iproute2 for the failover test's
# network namespaces, cppcheck and clang-format, the Prometheus text parser, headless Chromium
# for the wallboard's test, etcd for the leader election test); --cluster adds espeak-ng for the local
# cluster's caller voice, sipp (its carrier) and kamailio (its SBC).
set -eu
pkgs="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libnng-dev
libmbedtls-dev liblmdb-dev libsodium-dev libconfig-dev libcjson-dev libopus-dev libsrtp2-dev
libsndfile1-dev libogg-dev libasound2-dev libsofia-sip-ua-dev libcurl4-openssl-dev openssl procps"
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs lmdb-utils sip-tester kamailio kamailio-tls-modules iproute2 cppcheck clang-format
	python3-prometheus-client opus-tools chromium etcd-server"
fi
if [ "${1:-}" = "--cluster" ]; then
	pkgs="$pkgs espeak-ng sip-tester kamailio" # the demo caller's voice and prompts; the demo carrier; the SBC
fi
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
