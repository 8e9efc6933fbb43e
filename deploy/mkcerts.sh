#!/bin/sh
# mkcerts.sh DIR [SITE...] - a development CA and certificates for mutual TLS.
#
# Makes DIR/ca.pem (+ ca.key), DIR/hub.pem/.key, DIR/node-SITE.pem/.key for each SITE,
# DIR/agent.pem/.key (agent clients) and DIR/ctl.pem/.key (relaisctl). Every server
# certificate carries the DNS name "relais", which clients verify by default (override with
# the server_name setting); every certificate is signed by the CA, which both ends require.
# Keys are EC P-256. Existing files are kept, so a running cluster's CA survives re-runs.
set -eu
dir=${1:?usage: mkcerts.sh DIR [SITE...]}
shift
mkdir -p "$dir"
cd "$dir"
umask 077

if [ ! -f ca.pem ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/O=Relais/CN=Relais development CA" -keyout ca.key -out ca.pem 2>/dev/null
fi

# issue NAME CN SANS
issue() {
	[ -f "$1.pem" ] && return 0
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=Relais/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

issue hub relais-hub "DNS:relais,DNS:relais-hub,DNS:localhost"
for site in "$@"; do
	issue "node-$site" "relais-node-$site" "DNS:relais,DNS:relais-node-$site,DNS:localhost"
done
issue agent relais-agent "DNS:relais-agent"
issue ctl relais-ctl "DNS:relais-ctl"
chmod 644 ./*.pem
echo "certificates in $(pwd)"
