#!/usr/bin/env bash
# One CAPTCHA with nothing but curl and the documented proof-of-work rule (docs/api.md).
#   usage: curl-flow.sh BASE_URL SITEKEY SECRET ORIGIN
# Prints the first and second siteverify answers. Uses sha256sum for the hashes, so it is only
# practical with light PoW settings (e.g. a policy band of 4-8 bits), as in the test suite.
set -euo pipefail
base=$1 sitekey=$2 secret=$3 origin=$4

challenge_json=$(curl -sf "$base/v1/challenge" -H "origin: $origin" \
  -H 'content-type: application/json' -d "{\"v\":1,\"sitekey\":\"$sitekey\"}")
field() { sed -E "s/.*\"$1\":(\"([^\"]*)\"|([0-9]+)).*/\2\3/" <<<"$challenge_json"; }
challenge=$(field challenge) prefix=$(field prefix) bits=$(field bits) count=$(field count)

# leading zero bits of a hex digest
zero_bits() {
  local hex=$1 n=0 i digit
  for ((i = 0; i < ${#hex}; i++)); do
    digit=$((16#${hex:i:1}))
    if ((digit == 0)); then n=$((n + 4)); continue; fi
    if ((digit < 2)); then n=$((n + 3)); elif ((digit < 4)); then n=$((n + 2)); elif ((digit < 8)); then n=$((n + 1)); fi
    break
  done
  echo "$n"
}

nonces=()
for ((i = 0; i < count; i++)); do
  nonce=0
  while :; do
    digest=$(printf '%s' "$prefix$i:$nonce" | sha256sum | cut -c1-16)
    if (($(zero_bits "$digest") >= bits)); then break; fi
    nonce=$((nonce + 1))
  done
  nonces+=("$nonce")
done
pow=$(IFS=,; echo "${nonces[*]}")

solve_json=$(curl -sf "$base/v1/solve" -H "origin: $origin" -H 'content-type: application/json' \
  -d "{\"v\":1,\"challenge\":\"$challenge\",\"solution\":{\"pow\":[$pow]}}")
token=$(sed -E 's/.*"token":"([^"]*)".*/\1/' <<<"$solve_json")

curl -s "$base/siteverify" --data-urlencode "secret=$secret" --data-urlencode "response=$token"
echo
curl -s "$base/turnstile/v0/siteverify" --data-urlencode "secret=$secret" --data-urlencode "response=$token"
echo
