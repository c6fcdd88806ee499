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
if [ ! -s "$key" ] || [ ! -s "$cert" ] || ! openssl x509 -checkend "$renew_before" -noout -in "$cert" >/dev/null 2>&1; then
  [ -s "$cert" ] && echo "test_sign: renewing $cert (expires within 7 days)"
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 30 \
    -subj "/CN=Skeleton KMD test signing (throw-away)" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
    -keyout "$key" -out "$cert" 2>/dev/null
  chmod 600 "$key"
fi
rm -f "$out"
osslsigncode sign -certs "$cert" -key "$key" -h sha256 -n "Skeleton KMD (test-signed)" -in "$image" -out "$out" >/dev/null
# The PE checksum is outside what Authenticode hashes; make it right for the signed file too.
/usr/bin/python3 "$(dirname "$0")/../lint/pe_checksum.py" "$out"
