#!/usr/bin/env bash
# tests/tls-ca.sh DIR [KEYTYPE]: a throw-away certificate authority for the
# TLS tests, made at test time with the openssl CLI (no private key is ever
# committed). KEYTYPE: ec (P-256, the default) or rsa (2048).
#
#   ca.pem / ca.key            the test CA (trusted by the tests)
#   server.pem / server.key    localhost, 127.0.0.1, ::1 (leaf + CA chain)
#   other.pem / other.key      other.test, *.other.test (a second SNI name)
#   expired.pem / expired.key  localhost, 127.0.0.1, valid in 2020 only
#   wronghost.pem / .key       wrong.test only
#   untrusted.pem / .key       localhost, 127.0.0.1 by another CA (rogue.pem)
#   client.pem / client.key    a client certificate (CN=ringo-client)
#   rogueclient.pem / .key     a client certificate by the other CA
set -euo pipefail
dir=$1
kt=${2:-ec}
mkdir -p "$dir"
cd "$dir"

key() { # file
	if [ "$kt" = rsa ]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
	else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
	fi
}

ca() { # name subject
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "$2" -days 3650 -out "$1.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2>/dev/null
}

# leaf NAME CA SUBJECT EXT [STARTDATE ENDDATE]: signed with `openssl ca` so
# that any validity window can be given (an expired certificate).
leaf() {
	local name=$1 signer=$2 subj=$3 ext=$4 start=${5:-} end=${6:-}
	key "$name.key"
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
	mkdir -p "db-$signer"
	: >"db-$signer/index.txt"
	[ -f "db-$signer/serial" ] || echo 1000 >"db-$signer/serial"
	cat >"$name.cnf" <<CNF
[ca]
default_ca = x
[x]
database = db-$signer/index.txt
serial = db-$signer/serial
new_certs_dir = db-$signer
certificate = $signer.pem
private_key = $signer.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
$ext
CNF
	local dates=(-days 825)
	[ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
	openssl ca -batch -config "$name.cnf" -extensions ext -notext "${dates[@]}" \
		-in "$name.csr" -out "$name.leaf" 2>/dev/null
	cat "$name.leaf" "$signer.pem" >"$name.pem"
	rm -f "$name.csr" "$name.cnf" "$name.leaf"
}

server_ext='subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
extendedKeyUsage = serverAuth'
ca ca "/CN=ringo test CA"
ca rogue "/CN=ringo rogue CA"
leaf server ca "/CN=localhost" "$server_ext"
leaf other ca "/CN=other.test" 'subjectAltName = DNS:other.test, DNS:*.other.test
extendedKeyUsage = serverAuth'
leaf expired ca "/CN=localhost" "$server_ext" 20200101000000Z 20200201000000Z
leaf wronghost ca "/CN=wrong.test" 'subjectAltName = DNS:wrong.test
extendedKeyUsage = serverAuth'
leaf untrusted rogue "/CN=localhost" "$server_ext"
leaf client ca "/CN=ringo-client" 'extendedKeyUsage = clientAuth'
leaf rogueclient rogue "/CN=rogue-client" 'extendedKeyUsage = clientAuth'
rm -rf db-ca db-rogue
