#!/usr/bin/env bash
# Wrong passwords for one account against the local platform (deploy/up.sh), loopback only.
# Usage: bench/api/throttle-curve.sh   (after deploy/up.sh; locks the local admin for about 2 min)
# Each wrong attempt n is sent at once after the previous; a 429 is waited out (Retry-After) and
# the attempt sent again. Prints: attempt n -> wait imposed before it. Then the correct password.
set -euo pipefail
api=http://127.0.0.1:8080
email=admin@paas.localhost
root=$(cd "$(dirname "$0")/../.." && pwd)
pw=$(sed -n 's/^password: //p' "$root/.paas-local/admin-login")
login() { curl -s -o /dev/null -D - -w '%{http_code}\n' -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$1\"}" $api/v1/auth/login; }
for n in $(seq 1 11); do
    waited=0
    for try in 1 2 3; do
        out=$(login "wrong-password-$n"); status=$(tail -1 <<<"$out")
        [ "$status" = 429 ] || break
        ra=$(grep -i '^retry-after:' <<<"$out" | tr -d '\r' | awk '{print $2}')
        waited=$((waited + ra)); sleep "$ra"; sleep 0.1
    done
    echo "wrong attempt $n: $status after waiting ${waited}s (Retry-After)"
done
out=$(login "$pw"); status=$(tail -1 <<<"$out"); ra=$(grep -i '^retry-after:' <<<"$out" | tr -d '\r' | awk '{print $2}')
echo "correct password at once: $status retry-after=${ra:-none}"
sleep "${ra:-0}"; sleep 0.1
echo "correct password after the window: $(login "$pw" | tail -1)"
