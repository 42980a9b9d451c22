#!/usr/bin/env bash
# Contract fuzzing: the release server on a fresh SQLite database, schemathesis (pinned) against
# openapi.yaml with valid tokens, positive and negative cases, a bounded number of examples,
# every check (--checks all). Fails on any server error, any response (status, content type,
# headers, body) that the document does not describe, any request valid by the document that
# the server refuses as malformed (400), and any request invalid by the document that the
# server accepts. What counts as accepting and refusing is in schemathesis.toml beside this.
# Schemathesis runs in the temporary directory, so that it leaves nothing in the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
schemathesis="${SCHEMATHESIS:-schemathesis}"
examples="${CONTRACT_EXAMPLES:-25}"
bin="$root/target/release/ptt-ledger"
work="$(mktemp -d)"
export PTT_JWT_SECRET="contract-test-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$bin" --database-url "$work/contract.db" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

token() { "$bin" --database-url "$work/contract.db" token "$@"; }
post() { curl -sf -X POST "$base$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3"; }
admin=$(token --role platform_admin)
fund=$(post /v1/funds "$admin" '{"code": "contract", "name": "Contract"}' | jq -r .id)
bo=$(token --role fund_admin --fund "$fund")
scheme=$(post "/v1/funds/$fund/schemes" "$bo" '{"code": "ptt", "name": "PTT", "annual_amount": "750.00", "max_balance": "2250.00", "validity_years": 3, "eligible_categories": ["vakopleiding"], "max_claim_amount": "1500.00", "effective_from": "2020-01-01"}' | jq -r .id)
employer=$(post "/v1/funds/$fund/employers" "$bo" '{"kvk_number": "12345678", "name": "W", "sector": "metaal"}' | jq -r .id)
worker=$(post "/v1/funds/$fund/workers" "$bo" "{\"participant_number\": \"C-1\", \"employer_id\": \"$employer\"}" | jq -r .id)
post "/v1/funds/$fund/grants" "$bo" "{\"worker_id\": \"$worker\", \"scheme_id\": \"$scheme\", \"grant_year\": $(date +%Y)}" >/dev/null
me=$(token --role worker --fund "$fund" --worker "$worker")
export PTT_CONTRACT_FUND="$fund"
export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$root/tests/contract"

run() { # token, then filters
  local auth="$1"; shift
  (cd "$work" && "$schemathesis" --config-file "$root/tests/contract/schemathesis.toml" \
    run "$root/openapi.yaml" --url "$base" \
    --header "Authorization: Bearer $auth" \
    --checks all \
    --mode all --max-examples "$examples" --seed 20261128 --workers 1 \
    --phases examples,coverage,fuzzing --no-color "$@")
}
echo "=== back office routes"
run "$bo" --exclude-path /v1/funds --exclude-path /v1/me/budget
echo "=== platform routes"
run "$admin" --include-path /v1/funds --include-path '/v1/funds/{fund}'
echo "=== worker self-service"
run "$me" --include-path /v1/me/budget
echo "contract fuzzing: no failures"
