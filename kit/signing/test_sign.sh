#!/usr/bin/env bash
# test_sign.sh IMAGE OUT_IMAGE CERT_DIR - test-sign a driver image with a throw-away self-signed
# code-signing certificate, made on first use in CERT_DIR (inside build/, never committed).
#
# A test-signed driver loads on a real Windows machine only in test-signing mode; see the README
# ("Test signing") for the steps there.
set -euo pipefail
image=$1 out=$2 cert_dir=$3
mkdir -p "$cert_dir"
key="$cert_dir/test-signing.key" cert="$cert_dir/test-signing.crt"
# A new certificate when there is none, or when the one there expires within a week: a build
# directory older than the certificate's 30 days must keep signing (and verifying).
renew_before=$((7 * 24 * 3600))
# One signing at a time per directory: a fresh build signs two images at once, and each found no
# certificate and made its own, so one signature was made with a key whose certificate the other
# run then overwrote. The pair is also written whole before it is moved in place.
exec 9>"$cert_dir/test-signing.lock"
flock 9
if [ ! -s "$key" ] || [ ! -s "$cert" ] || ! openssl x509 -checkend "$renew_before" -noout -in "$cert" >/dev/null 2>&1; then
  [ -s "$cert" ] && echo "test_sign: renewing $cert (expires within 7 days)"
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 30 \
    -subj "/CN=Skeleton KMD test signing (throw-away)" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
    -keyout "$key.new" -out "$cert.new" 2>/dev/null
  chmod 600 "$key.new"
  mv -f "$key.new" "$key"
  mv -f "$cert.new" "$cert"
fi
rm -f "$out"
osslsigncode sign -certs "$cert" -key "$key" -h sha256 -n "Skeleton KMD (test-signed)" -in "$image" -out "$out" >/dev/null
# The PE checksum is outside what Authenticode hashes; make it right for the signed file too.
/usr/bin/python3 "$(dirname "$0")/../lint/pe_checksum.py" "$out"
