#!/usr/bin/env bash
# Regenerates Vigil's demo JWT material with the openssl CLI only.
#
#   envoy/tokens/mint.sh            re-mint the tokens with the existing keys (or create keys)
#   envoy/tokens/mint.sh --new-keys also replace both RSA key pairs
#
# Writes, next to this script:
#   demo-key.pem      RSA-2048 private key whose public half is in jwks.json (DEMO ONLY: it is
#                     committed on purpose so the demo and tests are reproducible; never use it
#                     for anything real)
#   other-key.pem     a second RSA key, NOT in the JWKS (for wrong-key.jwt)
#   jwks.json         the JWKS the Envoy configs inline (kid "vigil-demo-1", RS256)
#   valid-user.jwt    sub alice,      role user,  exp 2100-01-01
#   valid-admin.jwt   sub root-admin, role admin, exp 2100-01-01
#   expired.jwt       sub alice,      role user,  exp 2020-09-13
#   wrong-key.jwt     sub alice,      role admin, exp 2100, signed by other-key.pem (same kid)
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$DIR"

KID="vigil-demo-1"
ISS="https://vigil.example/demo"
AUD="vigil-demo"
EXP_FUTURE=4102444800   # 2100-01-01T00:00:00Z
EXP_PAST=1600000000     # 2020-09-13T12:26:40Z
IAT=1700000000          # 2023-11-14

if [[ "${1:-}" == "--new-keys" ]]; then
  rm -f demo-key.pem other-key.pem
fi
for k in demo-key.pem other-key.pem; do
  if [[ ! -f "$k" ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k" 2>/dev/null
  fi
done

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# JWKS: modulus (hex from openssl) -> bytes -> base64url; exponent 65537 = AQAB.
n="$(openssl rsa -in demo-key.pem -noout -modulus | sed 's/^Modulus=//' | xxd -r -p | b64url)"
printf '{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"%s","n":"%s","e":"AQAB"}]}\n' \
  "$KID" "$n" >jwks.json

# mint KEYFILE SUB ROLE EXP OUTFILE
mint() {
  local key="$1" sub="$2" role="$3" exp="$4" out="$5" header payload signing sig
  header="$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$KID" | b64url)"
  payload="$(printf '{"iss":"%s","aud":"%s","sub":"%s","role":"%s","iat":%d,"exp":%d}' \
    "$ISS" "$AUD" "$sub" "$role" "$IAT" "$exp" | b64url)"
  signing="$header.$payload"
  sig="$(printf '%s' "$signing" | openssl dgst -sha256 -sign "$key" -binary | b64url)"
  printf '%s.%s\n' "$signing" "$sig" >"$out"
}

mint demo-key.pem alice user "$EXP_FUTURE" valid-user.jwt
mint demo-key.pem root-admin admin "$EXP_FUTURE" valid-admin.jwt
mint demo-key.pem alice user "$EXP_PAST" expired.jwt
mint other-key.pem alice admin "$EXP_FUTURE" wrong-key.jwt
echo "minted: $(ls "$DIR"/*.jwt | xargs -n1 basename | tr '\n' ' ')"
