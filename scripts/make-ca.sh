#!/usr/bin/env bash
# make-ca.sh: a commune's own small certificate authority and the controller's certificate.
#
#   scripts/make-ca.sh DIR NAME [NAME...]
#
# DIR    where the files go (made if missing).
# NAME   every DNS name and IP address nodes and staff use to reach the controller (and the
#        Mosquitto broker, if it runs on the same machine): loa.xa-demo.vn 10.0.0.1 ...
#        localhost and 127.0.0.1 are always added: the controller's own MQTT client dials
#        the embedded broker on 127.0.0.1.
#
# Makes, in DIR:
#   ca.pem       the CA certificate: give it to nodes (the controller writes it into every node
#                config when [tls] ca points at it) and to browsers that should trust loa.
#   ca.key       the CA's private key (mode 600). Keep it offline if you can: whoever holds it
#                can make certificates every node trusts.
#   server.pem   the controller's certificate, signed by the CA ([tls] cert; Mosquitto's certfile).
#   server.key   its private key (mode 600) ([tls] key; Mosquitto's keyfile).
#
# Run again with the same DIR to renew the server certificate (new names, new expiry): an
# existing CA is kept, so nodes need nothing new. Validity: CA_DAYS (default 3650, ten years)
# and CERT_DAYS (default 825, about two years and three months) in the environment.
# Keys are ECDSA P-256. Needs openssl (Debian: apt-get install openssl).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
fi
dir=$1
shift
ca_days=${CA_DAYS:-3650}
cert_days=${CERT_DAYS:-825}
command -v openssl >/dev/null || { echo "make-ca.sh: openssl is not installed" >&2; exit 1; }

mkdir -p "$dir"
umask 077

# The subjectAltName list: IPs as IP:, everything else as DNS:, no duplicates.
sans=()
declare -A seen=()
for name in "$@" localhost 127.0.0.1; do
    [[ -n ${seen[$name]:-} ]] && continue
    seen[$name]=1
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
        sans+=("IP:$name")
    else
        sans+=("DNS:$name")
    fi
done
san=$(IFS=,; echo "${sans[*]}")
first=$1

if [[ ! -f $dir/ca.key ]]; then
    # The random suffix tells two communes' CAs apart (same first name, different keys).
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$ca_days" -sha256 \
        -subj "/O=loa/CN=loa CA $first $(openssl rand -hex 4)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    echo "made a new CA: $dir/ca.pem (valid $ca_days days)"
else
    echo "keeping the existing CA: $dir/ca.pem"
fi

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key" 2>/dev/null
ext=$(mktemp)
trap 'rm -f "$ext" "$dir/server.csr"' EXIT
cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EOF
openssl req -new -key "$dir/server.key" -out "$dir/server.csr" -subj "/O=loa/CN=$first"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/server.pem" -days "$cert_days" -sha256 -extfile "$ext" 2>/dev/null
rm -f "$dir/ca.srl"
chmod 600 "$dir/ca.key" "$dir/server.key"
chmod 644 "$dir/ca.pem" "$dir/server.pem"
echo "made $dir/server.pem for $san (valid $cert_days days)"
